"""The live view's stream handler on a real frame (tracking itself: tests/render/test_tracking.py)."""

from __future__ import annotations

import numpy as np

from faceage_lib.app.live import annotate_frame, jpeg_data_url


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
