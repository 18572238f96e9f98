"""faceage_lib.detector and faceage_lib.crop on public-domain photos from scikit-image.

``skimage.data.astronaut()`` (Eileen Collins, NASA, public domain) has one face at about
(177, 79)-(273, 175); ``skimage.data.chelsea()`` is a cat.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data as samples

import faceage_lib.crop
import faceage_lib.predictor
import faceage_lib.prepare
from faceage_lib.crop import crop_face, eye_angle
from faceage_lib.detector import LANDMARKS, Face, FaceDetector
from faceage_lib.images import load_image

ASTRONAUT_BOX = (177, 79, 273, 175)


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return samples.astronaut()


@pytest.fixture(scope="module")
def astronaut_face(detector, astronaut) -> Face:
    faces = detector.detect(astronaut)
    assert len(faces) == 1
    return faces[0]


def _mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(a.astype(np.float64) - b.astype(np.float64))))


# --------------------------------------------------------------------------- detector


def test_astronaut_has_one_face(detector, astronaut):
    faces = detector.detect(astronaut)
    assert len(faces) == 1
    face = faces[0]
    assert face.score > 0.8
    np.testing.assert_allclose(face.box, ASTRONAUT_BOX, atol=10)
    assert face.landmarks.shape == (len(LANDMARKS), 2) == (6, 2)
    x1, y1, x2, y2 = face.box
    eyes_nose_mouth, ears = face.landmarks[:4], face.landmarks[4:]
    assert np.all((eyes_nose_mouth[:, 0] > x1) & (eyes_nose_mouth[:, 0] < x2))
    assert np.all((eyes_nose_mouth[:, 1] > y1) & (eyes_nose_mouth[:, 1] < y2))
    # the ear points (tragion) lie on the face's outline, at the box's sides
    assert np.all((ears[:, 0] > x1 - 5) & (ears[:, 0] < x2 + 5))
    assert np.all((ears[:, 1] > y1) & (ears[:, 1] < y2))


def test_astronaut_landmarks_are_where_a_face_has_them(astronaut_face):
    points = dict(zip(LANDMARKS, astronaut_face.landmarks))
    assert points["right_eye"][0] < points["nose_tip"][0] < points["left_eye"][0]  # right eye on the left
    eyes_y = (points["right_eye"][1] + points["left_eye"][1]) / 2
    assert eyes_y < points["nose_tip"][1] < points["mouth"][1]
    assert points["right_ear"][0] < points["right_eye"][0]
    assert points["left_ear"][0] > points["left_eye"][0]
    assert 0 < eye_angle(astronaut_face) < 20  # her head is tilted slightly


def test_clipped_box():
    face = Face(box=(-10.4, 5.6, 120.2, 300.0), score=0.9, landmarks=np.zeros((6, 2)))
    assert face.clipped_box(100, 200) == (0, 6, 100, 200)
    assert all(isinstance(v, int) for v in face.clipped_box(100, 200))
    assert face.width == pytest.approx(130.6)


@pytest.mark.parametrize("name, image", [
    ("blank", np.full((480, 640, 3), 128, np.uint8)),
    ("black", np.zeros((300, 300, 3), np.uint8)),
    ("noise", np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)),
    ("cat", samples.chelsea()),
])
def test_no_face(detector, name, image):
    assert detector.detect(image) == []


def test_tiny_images_do_not_crash(detector):
    assert detector.detect(np.zeros((1, 1, 3), np.uint8)) == []
    assert detector.detect(np.zeros((3, 500, 3), np.uint8)) == []


def test_two_astronauts_side_by_side(detector, astronaut):
    twice = np.concatenate([astronaut, astronaut], axis=1)
    faces = sorted(detector.detect(twice), key=lambda f: f.box[0])
    assert len(faces) == 2
    left, right = (np.array(f.box) for f in faces)
    np.testing.assert_allclose(left, ASTRONAUT_BOX, atol=12)
    np.testing.assert_allclose(right, np.add(ASTRONAUT_BOX, [512, 0, 512, 0]), atol=12)
    assert all(f.score > 0.5 for f in faces)


def test_min_score(detector, astronaut):
    assert len(detector.detect(astronaut, min_score=0.5)) == 1
    assert detector.detect(astronaut, min_score=0.999) == []


def test_large_photo_box_scales(detector, astronaut, astronaut_face):
    """The astronaut upscaled to 4000 px: the same face, its box scaled by 4000 / 512."""
    scale = 4000 / 512
    big = cv2.resize(astronaut, (4000, 4000), interpolation=cv2.INTER_CUBIC)
    faces = detector.detect(big)
    assert len(faces) == 1
    assert faces[0].score > 0.8
    np.testing.assert_allclose(np.array(faces[0].box) / scale, ASTRONAUT_BOX, atol=10)
    np.testing.assert_allclose(np.array(faces[0].box) / scale, astronaut_face.box, atol=3)
    np.testing.assert_allclose(faces[0].landmarks / scale, astronaut_face.landmarks, atol=3)


def test_rotated_photo_still_finds_the_face(detector, astronaut):
    """np.rot90 turns the photo 90 degrees counter-clockwise: (x, y) -> (y, 511 - x)."""
    turned = np.ascontiguousarray(np.rot90(astronaut))
    faces = detector.detect(turned)
    assert len(faces) == 1
    x1, y1, x2, y2 = ASTRONAUT_BOX
    np.testing.assert_allclose(faces[0].box, (y1, 511 - x2, y2, 511 - x1), atol=10)


def test_a_small_face_in_a_large_photo_is_found(detector, astronaut):
    """Full-range pass and tiles: a 96 px face in a 2400 x 1800 photo (4% of its width)."""
    canvas = np.full((1800, 2400, 3), 200, np.uint8)
    canvas[1100:1612, 1500:2012] = astronaut
    faces = detector.detect(canvas)
    assert len(faces) == 1
    # found at about 12 px in a 192 px tile pass, so the box is coarser than for a close face
    expected = np.add(ASTRONAUT_BOX, [1500, 1100, 1500, 1100])
    centre = lambda box: np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])  # noqa: E731
    np.testing.assert_allclose(centre(faces[0].box), centre(expected), atol=20)
    assert faces[0].width == pytest.approx(96, rel=0.2)


# --------------------------------------------------------------------------- crop


def test_crop_shape_and_type(astronaut, astronaut_face):
    for size in (32, 64, 100):
        crop = crop_face(astronaut, astronaut_face, size)
        assert crop.shape == (size, size, 3)
        assert crop.dtype == np.uint8


def test_crop_is_the_face(astronaut, astronaut_face):
    """The crop is the box region, levelled: close to a plain resize of the box, far from elsewhere."""
    crop = crop_face(astronaut, astronaut_face, 64)
    x1, y1, x2, y2 = (round(v) for v in astronaut_face.box)
    plain = cv2.resize(astronaut[y1:y2, x1:x2], (64, 64), interpolation=cv2.INTER_AREA)
    elsewhere = cv2.resize(astronaut[300:396, 300:396], (64, 64), interpolation=cv2.INTER_AREA)
    assert _mean_abs_diff(crop, plain) < 0.5 * _mean_abs_diff(crop, elsewhere)


def test_crop_of_level_face_is_an_exact_resample():
    """A level face box on a smooth gradient: the crop is the box region resampled, nothing else."""
    ys, xs = np.mgrid[0:200, 0:300]
    image = np.stack([xs % 256, ys % 256, (xs + ys) % 256], -1).astype(np.uint8)
    landmarks = np.array([[120, 80], [180, 80], [150, 100], [150, 120], [100, 90], [200, 90]], float)
    face = Face(box=(100.0, 50.0, 200.0, 150.0), score=1.0, landmarks=landmarks)
    assert eye_angle(face) == 0
    crop = crop_face(image, face, 100).astype(int)  # scale 1: pixel (i, j) of the crop is (100 + j, 50 + i)
    np.testing.assert_allclose(crop[10, 20], (120, 60, 180), atol=1)
    np.testing.assert_allclose(crop[90, 70], (170, 140, 54), atol=1)


def test_crop_outside_the_photo_repeats_the_edge():
    image = np.zeros((100, 100, 3), np.uint8)
    image[:, :50] = 255
    landmarks = np.array([[-30, 40], [30, 40], [0, 50], [0, 60], [-45, 45], [45, 45]], float)
    face = Face(box=(-50.0, 0.0, 50.0, 100.0), score=1.0, landmarks=landmarks)
    crop = crop_face(image, face, 50)
    assert crop[:, :20].min() == 255  # the part left of the photo repeats its white left edge


def test_crop_of_upscaled_photo_matches(detector, astronaut, astronaut_face):
    crop = crop_face(astronaut, astronaut_face, 64)
    big = cv2.resize(astronaut, (2048, 2048), interpolation=cv2.INTER_CUBIC)
    big_faces = detector.detect(big)
    assert len(big_faces) == 1
    big_crop = crop_face(big, big_faces[0], 64)
    assert _mean_abs_diff(crop, big_crop) < 6
    # what "close" means here: shifting the box by 4 px (4% of the face) costs far more
    shifted = Face(tuple(np.add(astronaut_face.box, [4, 0, 4, 0])), 1.0, astronaut_face.landmarks)
    assert _mean_abs_diff(crop, crop_face(astronaut, shifted, 64)) > 15


def test_crop_of_very_large_photo_shrinks_without_aliasing(astronaut, astronaut_face):
    """The same face box in an 8x photo: the area pre-shrink keeps the crop close to the original's."""
    big = cv2.resize(astronaut, (4096, 4096), interpolation=cv2.INTER_CUBIC)
    scaled = Face(tuple(np.array(astronaut_face.box) * 8 + 3.5), 1.0, astronaut_face.landmarks * 8 + 3.5)
    assert _mean_abs_diff(crop_face(astronaut, astronaut_face, 64), crop_face(big, scaled, 64)) < 5


def test_rolled_face_is_levelled(detector, astronaut, astronaut_face):
    """Rotate the photo by 20 degrees about the face: the crop is levelled back to the upright one."""
    upright = crop_face(astronaut, astronaut_face, 64)
    centre = ((astronaut_face.box[0] + astronaut_face.box[2]) / 2, (astronaut_face.box[1] + astronaut_face.box[3]) / 2)
    matrix = cv2.getRotationMatrix2D(centre, 20, 1.0)  # counter-clockwise on screen
    rolled = cv2.warpAffine(astronaut, matrix, (512, 512), borderMode=cv2.BORDER_REFLECT)
    faces = detector.detect(rolled)
    assert len(faces) == 1
    assert eye_angle(faces[0]) == pytest.approx(eye_angle(astronaut_face) - 20, abs=3)
    levelled = crop_face(rolled, faces[0], 64)
    unlevelled_face = Face(faces[0].box, faces[0].score, np.array([[0, 0], [1, 0]] + [[0, 0]] * 4, float))
    unlevelled = crop_face(rolled, unlevelled_face, 64)
    assert _mean_abs_diff(upright, levelled) < 16
    assert _mean_abs_diff(upright, levelled) < 0.6 * _mean_abs_diff(upright, unlevelled)


def test_eye_angle_sign():
    def face(right_eye, left_eye):
        return Face((0.0, 0.0, 10.0, 10.0), 1.0, np.array([right_eye, left_eye] + [[0, 0]] * 4, float))

    assert eye_angle(face((0, 0), (10, 0))) == 0
    assert eye_angle(face((0, 0), (10, 10))) == pytest.approx(45)  # left eye lower in the image
    assert eye_angle(face((0, 10), (10, 0))) == pytest.approx(-45)


# --------------------------------------------------------------------------- training uses the same crop


def test_the_crop_function_is_the_one_training_uses():
    assert faceage_lib.prepare.crop_face is faceage_lib.crop.crop_face
    assert faceage_lib.predictor.crop_face is faceage_lib.crop.crop_face


def test_build_crops_equals_inference_crop(tmp_path, detector, astronaut):
    face_path, cat_path = tmp_path / "astronaut.png", tmp_path / "cat.jpg"
    Image.fromarray(astronaut).save(face_path)
    Image.fromarray(samples.chelsea()).save(cat_path, quality=90)
    crops, detected = faceage_lib.prepare.build_crops([str(face_path), str(cat_path)], 48, progress=False)
    assert crops.shape == (2, 48, 48, 3) and crops.dtype == np.uint8
    assert detected.tolist() == [True, False]
    image = load_image(face_path)
    np.testing.assert_array_equal(crops[0], crop_face(image, detector.detect(image)[0], 48))
    # no face: the whole frame, as for an undetected UTKFace chip
    cat = load_image(cat_path)
    whole = faceage_lib.prepare.whole_frame_face(cat.shape[1], cat.shape[0])
    assert whole.box == (0.0, 0.0, float(cat.shape[1]), float(cat.shape[0]))
    assert eye_angle(whole) == 0
    np.testing.assert_array_equal(crops[1], crop_face(cat, whole, 48))


def test_crop_cache_is_built_once(tmp_path, astronaut, monkeypatch):
    import pandas as pd

    path = tmp_path / "a.png"
    Image.fromarray(astronaut).save(path)
    table = pd.DataFrame({"path": [str(path)], "hash": ["h1"]})
    first = faceage_lib.prepare.load_or_build_crops(table, 32, tmp_path / "cache", progress=False)
    assert (tmp_path / "cache" / "crops_32.npz").is_file()

    def no_rebuild(*args, **kwargs):
        raise AssertionError("crops rebuilt although cached")

    monkeypatch.setattr(faceage_lib.prepare, "build_crops", no_rebuild)
    second = faceage_lib.prepare.load_or_build_crops(table, 32, tmp_path / "cache", progress=False)
    np.testing.assert_array_equal(second.rows(table), first.rows(table))
    assert second.detected.tolist() == [True]
    with pytest.raises(KeyError, match="no cached crop"):
        second.rows(pd.DataFrame({"hash": ["unknown"]}))
