"""The crop is the model's contract, as data: recorded by the export, read by the estimator, used by
the predictor and the crop cache, so a model trained on other crops is cropped its own way."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

from faceage_lib.data.crops import cache_key
from faceage_lib.errors import ModelFileError
from faceage_lib.inference.crop import BOX_KEYPOINTS, CROP_VERSION, CropSpec, crop_face, template_matrix
from faceage_lib.inference.detectors.base import Face
from faceage_lib.inference.estimator import AgeGenderEstimator
from faceage_lib.inference.predictor import Predictor


def test_the_manifest_records_the_crop_and_the_estimator_reads_it(tiny_model_dir):
    manifest = json.loads((tiny_model_dir / "manifest.json").read_text())
    assert manifest["input"]["crop"] == {
        "function": "faceage_lib.inference.crop.crop_face",
        "scale": 1.0,
        "align": "eyes",
        "version": CROP_VERSION,
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


def test_a_model_trained_on_version_1_crops_is_read(tiny_model_dir, tmp_path):
    """Version 2 changed only the downsampling of large faces (within 0.4 grey levels): a model
    whose manifest says version 1 is cut the current way; an unknown version is refused."""
    older = shutil.copytree(tiny_model_dir, tmp_path / "older")
    manifest = json.loads((older / "manifest.json").read_text())
    manifest["input"]["crop"]["version"] = 1
    (older / "manifest.json").write_text(json.dumps(manifest))
    assert AgeGenderEstimator(older).crop == CropSpec(32)
    assert CropSpec(32).version == CROP_VERSION == 2


@pytest.mark.parametrize("angle, side", [(0.0, 420), (17.0, 900), (-8.0, 150)])
def test_a_large_face_is_downsampled_like_an_area_resize(angle, side):
    """The halvings and bilinear rest cut, from a face 2-14x the crop's size, what one exact area
    resize of the same square would (within 1.3 grey levels on a smooth photo; version 1 cut that)."""
    rng = np.random.default_rng(3)
    photo = cv2.GaussianBlur(rng.integers(0, 256, (1200, 1400, 3), dtype=np.uint8), (0, 0), 4)
    photo = cv2.resize(cv2.resize(photo, (140, 120), interpolation=cv2.INTER_AREA), (1400, 1200))
    level = Face.from_box((250, 150, 250 + side, 150 + side))
    theta = np.radians(angle)
    landmarks = level.landmarks.copy()
    landmarks[1] = landmarks[0] + 100 * np.array([np.cos(theta), np.sin(theta)])
    face = Face(level.box, 1.0, landmarks)
    crop = crop_face(photo, face, 64)
    centre = (250 + side / 2, 150 + side / 2)
    upright = cv2.warpAffine(photo, cv2.getRotationMatrix2D(centre, angle, 1.0), photo.shape[1::-1])
    x1, y1 = round(centre[0] - side / 2), round(centre[1] - side / 2)
    reference = cv2.resize(upright[y1 : y1 + side, x1 : x1 + side], (64, 64), interpolation=cv2.INTER_AREA)
    assert np.abs(crop.astype(int) - reference)[4:-4, 4:-4].mean() < 1.3


def test_the_crop_cache_key_names_the_crop():
    assert cache_key(CropSpec(64)) != cache_key(CropSpec(64, 1.2))
    assert cache_key(CropSpec(64)) != cache_key(CropSpec(64, align="none"))
    assert "size=64" in cache_key(CropSpec(64))


@pytest.mark.parametrize("bad", [dict(size=4), dict(size=64, scale=0.1), dict(size=64, align="tilted")])
def test_invalid_specs_are_refused(bad):
    with pytest.raises(ValueError):
        CropSpec(**bad)


TEMPLATE = ((9.5, 9.5), (22.5, 9.5), (16.0, 17.0), (16.0, 23.0))


def _template_face(angle: float, scale: float, shift=(200.0, 150.0)) -> Face:
    """A face whose four keypoints are the template's, rotated, scaled and shifted into a photo."""
    theta = np.radians(angle)
    rotation = scale * np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    landmarks = np.full((6, 2), np.nan)
    landmarks[:4] = np.asarray(TEMPLATE) @ rotation.T + shift
    x1, y1 = landmarks[:4].min(axis=0) - 10
    x2, y2 = landmarks[:4].max(axis=0) + 10
    return Face((x1, y1, x2, y2), 1.0, landmarks)


def test_a_template_crop_is_data_in_the_manifest_and_the_cache_key():
    spec = CropSpec(32, align="template", template=TEMPLATE)
    entry = spec.to_manifest()
    assert entry["template"] == [list(point) for point in TEMPLATE] and entry["align"] == "template"
    assert json.loads(json.dumps(entry)) == entry
    assert CropSpec.from_manifest(entry, 32) == spec and hash(CropSpec.from_manifest(entry, 32)) == hash(spec)
    assert "template=9.5,9.5;22.5,9.5;16,17;16,23" in cache_key(spec)
    assert cache_key(spec) != cache_key(CropSpec(32, align="template", template=TEMPLATE[:2]))
    # the box crops keep their manifest entry, cache key and cache file
    assert "template" not in CropSpec(64).to_manifest() and CropSpec(64).cache_name() == ""
    assert CropSpec(64).key() == f"size=64 crop=v{CROP_VERSION} scale=1.0 align=eyes"
    assert spec.cache_name() == "_template"


@pytest.mark.parametrize(
    "bad",
    [
        dict(size=32, align="template"),  # no points
        dict(size=32, align="eyes", template=TEMPLATE),  # points without the template alignment
        dict(size=32, align="template", template=TEMPLATE[:1]),  # one point fixes no scale or rotation
        dict(size=32, align="template", template=TEMPLATE + ((3.0, 3.0), (4.0, 4.0))),  # the ears are not used
        dict(size=32, align="template", template=((1.0, 1.0), (40.0, 1.0))),  # outside the crop
        dict(size=32, align="template", template=((1.0, 1.0), (1.0, 1.0))),  # the same point twice
    ],
)
def test_invalid_templates_are_refused(bad):
    with pytest.raises(ValueError):
        CropSpec(**bad)
    entry = {"function": "faceage_lib.inference.crop.crop_face", "scale": 1.0, "align": "template", "version": 1}
    with pytest.raises(ModelFileError, match="not valid"):
        CropSpec.from_manifest({**entry, "template": [[1, 1], "x"]}, 32)


@pytest.mark.parametrize("angle, scale", [(0.0, 4.0), (25.0, 6.0), (-40.0, 1.5)])
def test_the_template_crop_puts_the_keypoints_on_the_template(angle, scale):
    """Dots drawn at a rotated, scaled face's keypoints land on the template's points in the crop
    (4x and 6x: downsampled first; 1.5x: warped directly)."""
    face = _template_face(angle, scale)
    spec = CropSpec(32, align="template", template=TEMPLATE)
    np.testing.assert_allclose(
        np.c_[face.landmarks[:4], np.ones(4)] @ template_matrix(face, spec).T, TEMPLATE, atol=1e-4
    )
    photo = np.zeros((400, 500, 3), np.uint8)
    for k, (x, y) in enumerate(face.landmarks[:4]):
        cv2.circle(photo, (round(x), round(y)), round(1.5 * scale), (60 * (k + 1), 255, 0), -1)
    crop = crop_face(photo, face, spec)
    assert crop.shape == (32, 32, 3)
    for k, (x, y) in enumerate(TEMPLATE):
        assert crop[round(y), round(x), 1] > 100  # the dot's green
        assert abs(int(crop[round(y), round(x), 0]) - 60 * (k + 1)) < 40  # and its own red


def test_a_face_without_keypoints_gets_the_average_ones_of_its_box(astronaut, astronaut_face):
    spec = CropSpec(32, align="template", template=TEMPLATE)
    boxed = Face.from_box(astronaut_face.box)  # eyes guessed, no nose or mouth
    x1, y1, x2, y2 = boxed.box
    average = np.full((6, 2), np.nan)
    average[:4] = np.array([x1, y1]) + np.asarray(BOX_KEYPOINTS) * np.array([x2 - x1, y2 - y1])
    expected = crop_face(astronaut, Face(boxed.box, 1.0, average), spec)
    np.testing.assert_array_equal(crop_face(astronaut, boxed, spec), expected)
    detected = crop_face(astronaut, astronaut_face, spec)  # its own keypoints: a similar framing
    assert np.abs(detected.astype(int) - expected).mean() < 40
