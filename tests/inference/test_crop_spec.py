"""The crop is the model's contract, as data: recorded by the export, read by the estimator, used by
the predictor and the crop cache, so a model trained on other crops is cropped its own way."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from faceage_lib.data.crops import cache_key
from faceage_lib.inference.crop import CropSpec, crop_face
from faceage_lib.inference.detectors.base import Face
from faceage_lib.inference.estimator import AgeGenderEstimator
from faceage_lib.inference.predictor import Predictor


def test_the_manifest_records_the_crop_and_the_estimator_reads_it(tiny_model_dir):
    manifest = json.loads((tiny_model_dir / "manifest.json").read_text())
    assert manifest["input"]["crop"] == {
        "function": "faceage_lib.inference.crop.crop_face",
        "scale": 1.0,
        "align": "eyes",
        "version": 1,
    }
    assert AgeGenderEstimator(tiny_model_dir).crop == CropSpec(32)


def test_a_model_trained_on_wider_crops_is_cropped_its_own_way(tiny_model_dir, tmp_path, astronaut, astronaut_face):
    wider = shutil.copytree(tiny_model_dir, tmp_path / "wider")
    manifest = json.loads((wider / "manifest.json").read_text())
    manifest["input"]["crop"]["scale"] = 1.4
    (wider / "manifest.json").write_text(json.dumps(manifest))
    predictor = Predictor(wider)
    assert predictor.estimator.crop == CropSpec(32, 1.4)
    [crop] = predictor.analyze(astronaut, boxes=[astronaut_face.box]).crops
    boxed = Face.from_box(astronaut_face.box)  # the face as predict(boxes=...) makes it
    tight = crop_face(astronaut, boxed, 32)
    np.testing.assert_array_equal(crop, crop_face(astronaut, boxed, CropSpec(32, 1.4)))
    assert np.abs(crop.astype(int) - tight).mean() > 10  # the wider crop differs


def test_alignment_none_keeps_the_photo_rotation(astronaut, astronaut_face):
    level = Face.from_box(astronaut_face.box)
    landmarks = level.landmarks.copy()
    landmarks[1, 1] += 30  # the left eye lower: a rolled face
    rolled = Face(box=level.box, score=1.0, landmarks=landmarks)
    unrotated = CropSpec(48, align="none")
    np.testing.assert_array_equal(crop_face(astronaut, rolled, unrotated), crop_face(astronaut, level, unrotated))
    assert np.abs(crop_face(astronaut, rolled, 48).astype(int) - crop_face(astronaut, level, 48)).mean() > 10


def test_the_crop_cache_key_names_the_crop():
    assert cache_key(CropSpec(64)) != cache_key(CropSpec(64, 1.2))
    assert cache_key(CropSpec(64)) != cache_key(CropSpec(64, align="none"))
    assert "size=64" in cache_key(CropSpec(64))


@pytest.mark.parametrize("bad", [dict(size=4), dict(size=64, scale=0.1), dict(size=64, align="tilted")])
def test_invalid_specs_are_refused(bad):
    with pytest.raises(ValueError):
        CropSpec(**bad)
