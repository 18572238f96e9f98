"""The shipped model's golden corpus, stage by stage (recorded by ``make_golden.py`` in this folder).

Each stage starts from the golden input of that stage, so a failure names the stage that changed:
the photo decoding, the detector, the crop, the model, or the predictor putting them together.
The detector and crop stages hold for any model; the model stages need the model they were
recorded with. Tolerances allow the grey level or so by which OpenCV, libjpeg or LiteRT builds
differ, and no more: a crop shifted by one pixel differs from its golden crop by 4 to 8 grey levels
on average (allowed: 1) and by 55 or more at most (allowed: 8).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from make_golden import GOLDEN, crop_path, estimates_stage, face_row, model_files, photo_stage
from PIL import Image

from faceage_lib import Predictor
from faceage_lib.config import assets_dir, shipped_model_dir
from faceage_lib.inference.crop import crop_face
from faceage_lib.inference.detectors import Face
from faceage_lib.inference.images import load_image

CORPUS = json.loads(GOLDEN.read_text())
PHOTOS = list(CORPUS["photos"])
#: Mean and largest absolute difference allowed between a crop and its golden crop (grey levels).
CROP_MEAN_DIFF, CROP_MAX_DIFF = 1.0, 8
#: Detector rows: box and landmark coordinates (pixels), score.
BOX_ATOL, SCORE_ATOL = 0.5, 0.005
#: Per field: the estimator's outputs (the range's ends are whole years and may move by one), the final results.
ESTIMATE_ATOL = {"age": 0.05, "age_low": 1, "age_high": 1, "p_female": 0.002}
RESULT_ATOL = {
    "box": 1,
    "score": 0.005,
    "age": 0.15,
    "age_low": 1,
    "age_high": 1,
    "gender_prob": 0.005,
    "p_female": 0.005,
}


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor(shipped_model_dir())


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    return {name: load_image(assets_dir() / name) for name in PHOTOS}


@pytest.fixture(scope="module")
def same_model(predictor) -> None:
    """A model stage on another model fails, saying how to record the corpus anew."""
    found = model_files(predictor.estimator.manifest)
    changed = sorted(
        name
        for name in found.keys() | CORPUS["model_files"].keys()
        if found.get(name) != CORPUS["model_files"].get(name)
    )
    if changed:
        pytest.fail(
            f"the shipped {', '.join(changed)} differ from the files the golden corpus was recorded with: "
            "check the new model's results, then regenerate with `python tests/golden/make_golden.py`",
            pytrace=False,
        )


def golden_crops(name: str) -> np.ndarray:
    count = len(CORPUS["photos"][name]["faces"])
    size = CORPUS["crop_size"]
    return np.asarray([np.asarray(Image.open(crop_path(name, i))) for i in range(count)]).reshape(-1, size, size, 3)


def golden_face(row: dict) -> Face:
    return Face(box=tuple(row["box"]), score=row["score"], landmarks=np.asarray(row["landmarks"]))


def assert_close(found: dict, expected: dict, atol: dict[str, float]) -> None:
    """The same keys in both, numbers within their field's ``atol``, anything else equal."""
    assert found.keys() == expected.keys()
    for key, value in expected.items():
        if key in atol:
            np.testing.assert_allclose(found[key], value, atol=atol[key], err_msg=key)
        else:
            assert found[key] == value, key


@pytest.mark.parametrize("name", PHOTOS)
def test_photo_decoding(name, photos):
    expected = CORPUS["photos"][name]["photo"]
    found = photo_stage(photos[name])
    assert found["shape"] == expected["shape"]
    np.testing.assert_allclose(found["channel_means"], expected["channel_means"], atol=0.5)


def test_grayscale_photo_is_grey_in_rgb(photos):
    photo = photos["cameraman.jpg"]
    assert (photo[..., 0] == photo[..., 1]).all() and (photo[..., 1] == photo[..., 2]).all()


@pytest.mark.parametrize("name", PHOTOS)
def test_detector_rows(name, predictor, photos):
    expected = CORPUS["photos"][name]["faces"]
    found = [face_row(face) for face in predictor.detector.detect(photos[name])]
    assert len(found) == len(expected)
    for row, golden in zip(found, expected):
        np.testing.assert_allclose(row["box"], golden["box"], atol=BOX_ATOL)
        np.testing.assert_allclose(row["landmarks"], golden["landmarks"], atol=2 * BOX_ATOL)
        assert row["score"] == pytest.approx(golden["score"], abs=SCORE_ATOL)


@pytest.mark.parametrize("name", PHOTOS)
def test_crops(name, photos):
    expected = golden_crops(name).astype(np.int16)
    for index, row in enumerate(CORPUS["photos"][name]["faces"]):
        crop = crop_face(photos[name], golden_face(row), CORPUS["crop_size"])
        difference = np.abs(crop.astype(np.int16) - expected[index])
        assert difference.mean() <= CROP_MEAN_DIFF and difference.max() <= CROP_MAX_DIFF, (
            f"face {index}: crop differs from {crop_path(name, index).name} by {difference.mean():.2f} grey levels "
            f"on average, {difference.max()} at most"
        )


@pytest.mark.usefixtures("same_model")
@pytest.mark.parametrize("flip", [False, True], ids=["plain", "flip"])
@pytest.mark.parametrize("name", PHOTOS)
def test_model_estimates(name, flip, predictor):
    expected = CORPUS["photos"][name]["estimates_flip" if flip else "estimates"]
    assert_close(estimates_stage(predictor.estimator.predict(golden_crops(name), flip=flip)), expected, ESTIMATE_ATOL)


@pytest.mark.usefixtures("same_model")
@pytest.mark.parametrize("name", PHOTOS)
def test_final_results(name, predictor, photos):
    expected = CORPUS["photos"][name]["results"]
    found = [face.to_dict() for face in predictor.predict(photos[name])]
    assert len(found) == len(expected)
    for face, golden in zip(found, expected):
        assert_close(face, golden, RESULT_ATOL)


def test_predict_many_equals_predict(predictor, photos):
    assert predictor.predict_many(photos.values()) == [predictor.predict(photo) for photo in photos.values()]
