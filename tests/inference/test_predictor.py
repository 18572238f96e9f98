"""faceage_lib.inference.predictor and ``faceage predict`` with the tiny test model (offline, no shipped model)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data as samples

from faceage_lib.errors import ImageError
from faceage_lib.inference.predictor import Analysis, FaceResult, Predictor

FACE_KEYS = {"box", "score", "age", "age_low", "age_high", "gender", "gender_prob", "p_female"}


@pytest.fixture(scope="module")
def astronaut_png(tmp_path_factory, astronaut) -> Path:
    path = tmp_path_factory.mktemp("photos") / "astronaut.png"
    Image.fromarray(astronaut).save(path)
    return path


def _check_face(face: FaceResult, width: int, height: int) -> None:
    assert isinstance(face, FaceResult)
    assert len(face.box) == 4 and all(isinstance(v, int) for v in face.box)
    x1, y1, x2, y2 = face.box
    assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
    assert face.gender in ("female", "male")
    assert 0.5 <= face.gender_prob <= 1
    assert face.age_low <= face.age <= face.age_high
    assert 0 <= face.age_low and face.age_high <= 116
    assert 0.5 <= face.score <= 1


def test_astronaut(predictor, astronaut):
    faces = predictor.predict(astronaut)
    assert len(faces) == 1
    _check_face(faces[0], 512, 512)
    np.testing.assert_allclose(faces[0].box, (177, 79, 273, 175), atol=10)


def test_every_source_kind_gives_the_same_result(predictor, astronaut, astronaut_png):
    expected = predictor.predict(astronaut)
    sources = [astronaut_png, str(astronaut_png), astronaut_png.read_bytes(), Image.open(astronaut_png), astronaut]
    for source in sources:
        assert predictor.predict(source) == expected


def test_gender_and_probability_are_consistent(predictor, astronaut):
    analysis = predictor.analyze(astronaut)
    p_female = float(predictor.estimator.predict(analysis.crops).p_female[0])
    face = analysis.faces[0]
    assert face.gender == ("female" if p_female >= 0.5 else "male")
    assert face.gender_prob == pytest.approx(max(p_female, 1 - p_female), abs=1e-4)


def test_analyze(predictor, astronaut):
    analysis = predictor.analyze(astronaut)
    assert isinstance(analysis, Analysis)
    np.testing.assert_array_equal(analysis.image, astronaut)
    assert analysis.crops.shape == (1, 32, 32, 3) and analysis.crops.dtype == np.uint8
    assert len(analysis.faces) == 1


def test_faces_left_to_right(predictor, astronaut):
    twice = np.concatenate([astronaut, astronaut[:, ::-1]], axis=1)
    faces = predictor.predict(twice)
    assert len(faces) == 2
    assert faces[0].box[0] < faces[1].box[0]
    for face in faces:
        _check_face(face, 1024, 512)


def test_locate_then_estimate_some_faces(predictor, astronaut):
    twice = np.concatenate([astronaut, astronaut[:, ::-1]], axis=1)
    located = predictor.locate(twice)
    faces = predictor.predict(twice)
    assert located.boxes() == [face.box for face in faces]  # the boxes the results will have
    assert predictor.estimate(located) == faces
    assert predictor.estimate(located, [1]) == faces[1:] and predictor.estimate(located, []) == []


def test_no_face(predictor):
    assert predictor.predict(samples.chelsea()) == []
    analysis = predictor.analyze(np.full((100, 100, 3), 255, np.uint8))
    assert analysis.faces == [] and analysis.crops.shape == (0, 32, 32, 3)


def test_predict_many_equals_predict(predictor, astronaut, astronaut_png):
    photos = [astronaut, samples.chelsea(), astronaut_png, np.concatenate([astronaut, astronaut], axis=1)]
    many = predictor.predict_many(photos)
    assert len(many) == 4
    assert [len(faces) for faces in many] == [1, 0, 1, 2]
    assert many == [predictor.predict(photo) for photo in photos]
    assert predictor.predict_many([]) == []


@pytest.mark.parametrize("bad", [b"", b"not an image", np.full((4, 4, 3), np.nan), np.zeros((4, 4, 2), np.uint8), 7])
def test_bad_input_raises_image_error(predictor, bad):
    with pytest.raises(ImageError):
        predictor.predict(bad)


def test_bad_input_in_predict_many_raises_image_error(predictor, astronaut):
    with pytest.raises(ImageError):
        predictor.predict_many([astronaut, b"junk"])


def test_missing_file(predictor, tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        predictor.predict(tmp_path / "missing.jpg")


def test_face_result_to_dict_and_label():
    face = FaceResult(
        box=(1, 2, 3, 4),
        score=0.9,
        age=34.2,
        age_low=29.0,
        age_high=41.0,
        gender="female",
        gender_prob=0.8,
        p_female=0.8,
        p_under_18=0.03,
    )
    values = face.to_dict()
    assert values == {
        "box": [1, 2, 3, 4],
        "score": 0.9,
        "age": 34.2,
        "age_low": 29.0,
        "age_high": 41.0,
        "gender": "female",
        "gender_prob": 0.8,
        "p_female": 0.8,
        "p_under_18": 0.03,
    }
    json.dumps(values)
    assert face.label == "F 34 (29-41)"


def test_flip_option(tiny_model_dir, astronaut):
    """``flip=True`` gives the estimator's flip average of the same crop, which is not the plain estimate."""
    plain, flipped = Predictor(tiny_model_dir), Predictor(tiny_model_dir, flip=True)
    a, b = plain.predict(astronaut)[0], flipped.predict(astronaut)[0]
    assert a.box == b.box
    _check_face(b, 512, 512)
    expected = flipped.estimator.predict(plain.analyze(astronaut).crops, flip=True)
    assert b.p_female == pytest.approx(expected.p_female[0], abs=1e-4)
    assert b.age == pytest.approx(expected.age[0], abs=0.05)
    assert (a.p_female, a.age) != (b.p_female, b.age)


# --------------------------------------------------------------------------- faces the caller already has


def test_boxes_skip_the_detector_and_keep_their_order(predictor, astronaut, astronaut_face):
    detected = predictor.predict(astronaut)[0]
    box = astronaut_face.box
    given = predictor.predict(astronaut, boxes=[(0, 0, 100, 100), box])
    assert [face.box for face in given] == [(0, 0, 100, 100), detected.box]
    assert given[1].score == 1.0
    # same box, no eye landmarks: the crop is not rotated, so the estimate is close, not equal
    assert abs(given[1].age - detected.age) < 15


def test_boxes_on_a_photo_without_faces(predictor):
    blank = np.full((200, 300, 3), 90, np.uint8)
    assert predictor.predict(blank) == []
    assert len(predictor.predict(blank, boxes=[(10, 10, 110, 110)])) == 1
    assert predictor.predict(blank, boxes=[]) == []


@pytest.mark.parametrize("box", [(10, 10, 10, 50), (50, 10, 10, 50), (1, 2, 3)])
def test_bad_boxes_are_refused(predictor, box):
    with pytest.raises(ValueError):
        predictor.predict(np.zeros((64, 64, 3), np.uint8), boxes=[box])


def test_predict_crops_treats_each_image_as_one_face(predictor, astronaut, astronaut_box):
    x1, y1, x2, y2 = astronaut_box
    chip = astronaut[y1:y2, x1:x2]
    results = predictor.predict_crops([chip, Image.fromarray(chip)])
    assert len(results) == 2
    assert results[0] == results[1]
    assert results[0].box == (0, 0, x2 - x1, y2 - y1)
    assert results[0] == predictor.predict(chip, boxes=[(0, 0, x2 - x1, y2 - y1)])[0]


def test_a_plugged_in_detector_is_used(tiny_model_dir, astronaut):
    from faceage_lib.inference.detectors import Face, FaceDetector

    class FixedDetector(FaceDetector):
        name = "fixed"

        def __init__(self):
            self.calls = 0

        def detect(self, image, min_score=0.5):
            self.calls += 1
            return [Face.from_box((300, 20, 380, 100), score=0.9), Face.from_box((20, 20, 100, 100), score=0.8)]

    detector = FixedDetector()
    predictor = Predictor(tiny_model_dir, detector=detector)
    faces = predictor.predict(astronaut)
    assert detector.calls == 1
    assert [face.box for face in faces] == [(20, 20, 100, 100), (300, 20, 380, 100)]  # left to right


def test_unknown_detector_name(tiny_model_dir):
    with pytest.raises(ValueError, match="unknown detector 'nope'"):
        Predictor(tiny_model_dir, detector="nope")


def test_num_threads_reaches_litert(tiny_model_dir, monkeypatch):
    from faceage_lib.inference import runtime

    seen = []
    original = runtime.TFLiteModel.__init__

    def spy(self, model, num_threads=None, **options):
        seen.append(num_threads)
        original(self, model, num_threads, **options)

    monkeypatch.setattr(runtime.TFLiteModel, "__init__", spy)
    predictor = Predictor(tiny_model_dir, num_threads=1)
    assert seen == [1, 1]  # the age model and the short-range detector; the full-range one when first needed
    assert predictor.detector._full.size == 192  # loaded on first use
    assert seen == [1, 1, 1]
