"""The predictor's bounds (issue 17): large JPEGs decoded at a reduced size with boxes in the original
photo's pixels, the caller's boxes clipped or refused, and a process-wide budget of decoded pixels."""

from __future__ import annotations

import io
import threading
import time

import numpy as np
import pytest
from PIL import Image

from faceage_lib.errors import ImageError
from faceage_lib.inference import predictor as predictor_module
from faceage_lib.inference.budget import PixelBudget


def _jpeg(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def test_a_large_jpeg_gives_boxes_in_its_own_pixels(predictor, astronaut, monkeypatch):
    big = np.asarray(Image.fromarray(astronaut).resize((2048, 2048), Image.LANCZOS))
    expected = predictor.predict(_jpeg(big))
    monkeypatch.setattr(predictor_module, "DECODE_PIXELS", 512 * 512)  # decoded at 1/4 of the sides
    analysis = predictor.analyze(_jpeg(big))
    assert analysis.image.shape == (512, 512, 3) and analysis.scale == 4
    assert len(analysis.faces) == len(expected) == 1
    np.testing.assert_allclose(analysis.faces[0].box, expected[0].box, atol=24)
    assert abs(analysis.faces[0].age - expected[0].age) < 5
    assert predictor.predict_many([_jpeg(big)]) == [analysis.faces]  # the same decoding, batched


def test_boxes_outside_the_photo_are_refused_and_boxes_across_its_edge_kept(predictor, astronaut):
    with pytest.raises(ValueError, match="outside"):
        predictor.predict(astronaut, boxes=[(600, 600, 700, 700)])
    with pytest.raises(ValueError, match="outside"):
        predictor.predict(astronaut, boxes=[(-300, -300, -100, -100)])
    with pytest.raises(ValueError):
        predictor.predict(astronaut, boxes=[(0, 0, float("inf"), 10)])
    faces = predictor.predict(astronaut, boxes=[(-50, -50, 3000, 3000), (480, 480, 600, 600)])
    assert [face.box for face in faces] == [(0, 0, 512, 512), (480, 480, 512, 512)]


def test_the_pixel_budget_waits_then_refuses():
    budget = PixelBudget(100, timeout=0.2)
    with budget.hold(80):
        start = time.monotonic()
        with pytest.raises(ImageError, match="too many large photos"):
            with budget.hold(30):
                pass
        assert time.monotonic() - start >= 0.2
        with budget.hold(20):
            assert budget.held == 100
    assert budget.held == 0
    with budget.hold(10_000):  # a photo larger than the budget holds all of it
        assert budget.held == 100


def test_the_pixel_budget_lets_a_waiting_request_in_when_pixels_are_freed():
    budget = PixelBudget(100, timeout=5)
    entered = threading.Event()

    def wait():
        with budget.hold(50):
            entered.set()

    with budget.hold(90):
        waiter = threading.Thread(target=wait)
        waiter.start()
        time.sleep(0.1)
        assert not entered.is_set()
    waiter.join(2)
    assert entered.is_set()


def test_analyze_holds_the_decoded_pixels(predictor, astronaut, monkeypatch):
    seen = []
    budget = PixelBudget(10**9)
    original = budget.hold

    def spy(pixels):
        seen.append(pixels)
        return original(pixels)

    monkeypatch.setattr(budget, "hold", spy)
    monkeypatch.setattr(predictor_module, "DECODING_BUDGET", budget)
    predictor.predict(astronaut)
    assert seen == [512 * 512] and budget.held == 0
