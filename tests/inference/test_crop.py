"""faceage_lib.inference.detectors and faceage_lib.inference.crop on public-domain photos from scikit-image.

``skimage.data.astronaut()`` (Eileen Collins, NASA, public domain) has one face at about
(177, 79)-(273, 175); ``skimage.data.chelsea()`` is a cat.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceage_lib.inference.crop import crop_face, eye_angle
from faceage_lib.inference.detectors import Face


def _mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(a.astype(np.float64) - b.astype(np.float64))))


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
