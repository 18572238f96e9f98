"""Face tracking for the live view and video files, on hand-made boxes."""

from __future__ import annotations

import pytest

from faceage_lib.inference.predictor import FaceResult
from faceage_lib.render.tracking import REFRESH, SETTLE, STILL_IOU, FaceTracker, iou


def face(box, age=30.0, p_female=0.9) -> FaceResult:
    female = p_female >= 0.5
    return FaceResult(
        box=tuple(box),
        score=0.9,
        age=age,
        age_low=age - 5,
        age_high=age + 5,
        gender="female" if female else "male",
        gender_prob=p_female if female else 1 - p_female,
        p_female=p_female,
        p_under_18=0.1,
    )


def test_iou():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (10, 0, 20, 10)) == 0  # touching is not overlapping
    assert iou((0, 0, 10, 10), (30, 30, 40, 40)) == 0


def test_a_moving_face_keeps_its_track_and_its_estimate_settles():
    tracker = FaceTracker(min_confidence=0.5, smoothing=0.5, box_smoothing=1.0)
    (first,) = tracker.update([face((0, 0, 100, 100), age=20)])
    (second,) = tracker.update([face((10, 0, 110, 100), age=40)])
    assert second.id == first.id
    assert second.face.age == pytest.approx(30)  # halfway: smoothing 0.5
    assert second.face.box == (10, 0, 110, 100)  # box_smoothing 1: the newest box


def test_a_new_face_is_its_frames_mean_then_a_slow_moving_average():
    tracker = FaceTracker(min_confidence=0.5, smoothing=0.1)
    shown = [tracker.update([face((0, 0, 100, 100), age=age)])[0].face.age for age in (20, 40, 60)]
    assert shown == pytest.approx([20, 30, 40])  # the mean of the frames so far
    for _ in range(20):
        tracker.update([face((0, 0, 100, 100), age=40)])
    (track,) = tracker.update([face((0, 0, 100, 100), age=50)])
    assert track.face.age == pytest.approx(41, abs=0.2)  # past ten frames, the newest weighs 0.1


def test_two_faces_are_matched_by_overlap_not_by_order():
    tracker = FaceTracker(min_confidence=0.5, smoothing=1.0)
    left, right = tracker.update([face((0, 0, 50, 50), age=10), face((200, 0, 250, 50), age=60)])
    swapped = tracker.update([face((205, 0, 255, 50), age=61), face((3, 0, 53, 50), age=11)])
    ages = {track.id: track.face.age for track in swapped}
    assert ages == {left.id: 11, right.id: 61}


def test_a_missed_face_is_shown_for_a_few_frames_then_dropped():
    tracker = FaceTracker(min_confidence=0.5, max_missed=2)
    (track,) = tracker.update([face((0, 0, 50, 50))])
    assert [t.id for t in tracker.update([])] == [track.id]  # missed once: still shown
    assert [t.id for t in tracker.update([])] == [track.id]
    assert tracker.update([]) == []  # missed three times: gone
    (new,) = tracker.update([face((0, 0, 50, 50))])
    assert new.id != track.id


def test_a_far_box_starts_a_new_track():
    tracker = FaceTracker(min_confidence=0.5, min_iou=0.3)
    (first,) = tracker.update([face((0, 0, 50, 50))])
    tracks = tracker.update([face((300, 300, 350, 350))])
    assert len(tracks) == 2 and tracks[0].id == first.id and tracks[0].missed == 1


def test_gender_follows_the_smoothed_probability():
    tracker = FaceTracker(min_confidence=0.7, smoothing=0.5)
    tracker.update([face((0, 0, 50, 50), p_female=0.9)])
    (track,) = tracker.update([face((0, 0, 50, 50), p_female=0.3)])  # one odd frame
    assert track.face.p_female == pytest.approx(0.6)
    assert track.face.gender == "uncertain" and track.face.gender_prob == pytest.approx(0.6)
    (track,) = tracker.update([face((0, 0, 50, 50), p_female=0.9)])
    assert track.face.gender == "female"


def test_a_still_face_is_estimated_until_it_settles_then_every_refresh():
    tracker = FaceTracker(min_confidence=0.5)
    box = (100, 100, 200, 200)
    stale = []
    for _ in range(SETTLE + REFRESH):
        (due,) = tracker.stale([box])
        stale.append(due)
        tracker.update([face(box) if due else box])
    assert stale[:SETTLE] == [True] * SETTLE  # a new track takes an estimate on every look
    assert stale[SETTLE : SETTLE + REFRESH - 1] == [False] * (REFRESH - 1)
    assert stale[-1]  # REFRESH looks after its last estimate, a still face is estimated again
    assert tracker.tracks[0].estimated == SETTLE + 1 and tracker.tracks[0].seen == SETTLE + REFRESH


def test_a_new_or_moved_face_needs_an_estimate():
    tracker = FaceTracker(min_confidence=0.5, box_smoothing=1.0)
    for _ in range(SETTLE):
        tracker.update([face((0, 0, 100, 100))])
    nudged, moved, new = (2, 0, 102, 100), (25, 0, 125, 100), (400, 0, 500, 100)
    assert iou((0, 0, 100, 100), nudged) >= STILL_IOU > iou((0, 0, 100, 100), moved)
    assert tracker.stale([nudged, new]) == [False, True]
    assert tracker.stale([moved]) == [True]


def test_a_box_alone_moves_its_track_and_keeps_its_estimate():
    tracker = FaceTracker(min_confidence=0.5, smoothing=0.5, box_smoothing=0.5)
    (track,) = tracker.update([face((0, 0, 100, 100), age=30)])
    (moved,) = tracker.update([(10, 0, 110, 100)])
    assert moved.id == track.id and moved.face.age == 30 and moved.face.box == (5, 0, 105, 100)
    assert moved.estimated == 1 and moved.seen == 2 and moved.estimated_box == (0, 0, 100, 100)
    assert [t.id for t in tracker.update([(300, 300, 350, 350)])] == [track.id]  # an unmatched box starts no track
