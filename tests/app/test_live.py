"""The live view's stream handler on a real frame (tracking itself: tests/render/test_tracking.py)."""

from __future__ import annotations

import numpy as np

from faceage_lib.app.live import DETECT_EVERY, annotate_frame, jpeg_data_url
from faceage_lib.render.tracking import SETTLE


def test_stream_handler_annotates_and_keeps_its_tracker(predictor, astronaut):
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[:, 64:576] = astronaut[16:496]
    annotated, tracker = annotate_frame(predictor, frame, None)
    assert annotated.shape == frame.shape and not np.array_equal(annotated, frame)  # a box drawn
    assert len(tracker.tracks) == 1
    again, same = annotate_frame(predictor, frame, tracker)
    assert same is tracker and len(tracker.tracks) == 1
    assert annotate_frame(predictor, None, tracker) == (None, tracker)
    assert jpeg_data_url(again).startswith("data:image/jpeg;base64,/9j/")


def test_a_frame_without_a_face_gets_a_hint(predictor):
    frame = np.full((480, 640, 3), 90, np.uint8)
    hinted, tracker = annotate_frame(predictor, frame, None)
    assert not tracker.tracks and hinted.shape == frame.shape
    assert (hinted[-10:] == 0).mean() > 0.5 and np.array_equal(hinted[:300], frame[:300])  # a band at the bottom


def test_the_model_looks_again_only_at_new_moved_or_due_faces(predictor, astronaut, monkeypatch):
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[:, 64:576] = astronaut[16:496]
    estimated = []
    estimate = predictor.estimate
    monkeypatch.setattr(
        predictor, "estimate", lambda located, which: estimated.append(list(which)) or estimate(located, which)
    )
    tracker = None
    for _ in range(2 * SETTLE * DETECT_EVERY):  # a still face: looked at every DETECT_EVERY-th frame
        annotated, tracker = annotate_frame(predictor, frame, tracker)
    looks = 2 * SETTLE
    assert len(estimated) == looks and sum(map(len, estimated)) == SETTLE  # estimated until it settled
    assert tracker.tracks[0].seen == looks and tracker.tracks[0].estimated == SETTLE
    moved = np.roll(frame, 20, axis=1)  # a fifth of the face to the right
    for _ in range(DETECT_EVERY):
        annotated, tracker = annotate_frame(predictor, moved, tracker)
    assert estimated[-1] == [0] and tracker.tracks[0].estimated == SETTLE + 1  # it moved: estimated again
