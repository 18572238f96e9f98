"""faceage_lib.inference.detectors and faceage_lib.inference.crop on public-domain photos from scikit-image.

``skimage.data.astronaut()`` (Eileen Collins, NASA, public domain) has one face at about
(177, 79)-(273, 175); ``skimage.data.chelsea()`` is a cat.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data as samples

from faceage_lib.inference.crop import eye_angle
from faceage_lib.inference.detectors import LANDMARKS, Face

# --------------------------------------------------------------------------- detector


def test_astronaut_has_one_face(detector, astronaut, astronaut_box):
    faces = detector.detect(astronaut)
    assert len(faces) == 1
    face = faces[0]
    assert face.score > 0.8
    np.testing.assert_allclose(face.box, astronaut_box, atol=10)
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


@pytest.mark.parametrize(
    "name, image",
    [
        ("blank", np.full((480, 640, 3), 128, np.uint8)),
        ("black", np.zeros((300, 300, 3), np.uint8)),
        ("noise", np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)),
        ("cat", samples.chelsea()),
    ],
)
def test_no_face(detector, name, image):
    assert detector.detect(image) == []


def test_tiny_images_do_not_crash(detector):
    assert detector.detect(np.zeros((1, 1, 3), np.uint8)) == []
    assert detector.detect(np.zeros((3, 500, 3), np.uint8)) == []


def test_two_astronauts_side_by_side(detector, astronaut, astronaut_box):
    twice = np.concatenate([astronaut, astronaut], axis=1)
    faces = sorted(detector.detect(twice), key=lambda f: f.box[0])
    assert len(faces) == 2
    left, right = (np.array(f.box) for f in faces)
    np.testing.assert_allclose(left, astronaut_box, atol=12)
    np.testing.assert_allclose(right, np.add(astronaut_box, [512, 0, 512, 0]), atol=12)
    assert all(f.score > 0.5 for f in faces)


def test_min_score(detector, astronaut):
    assert len(detector.detect(astronaut, min_score=0.5)) == 1
    assert detector.detect(astronaut, min_score=0.999) == []


def test_large_photo_box_scales(detector, astronaut, astronaut_face, astronaut_box):
    """The astronaut upscaled to 4000 px: the same face, its box scaled by 4000 / 512."""
    scale = 4000 / 512
    big = cv2.resize(astronaut, (4000, 4000), interpolation=cv2.INTER_CUBIC)
    faces = detector.detect(big)
    assert len(faces) == 1
    assert faces[0].score > 0.8
    np.testing.assert_allclose(np.array(faces[0].box) / scale, astronaut_box, atol=10)
    np.testing.assert_allclose(np.array(faces[0].box) / scale, astronaut_face.box, atol=3)
    np.testing.assert_allclose(faces[0].landmarks / scale, astronaut_face.landmarks, atol=3)


def test_rotated_photo_still_finds_the_face(detector, astronaut, astronaut_box):
    """np.rot90 turns the photo 90 degrees counter-clockwise: (x, y) -> (y, 511 - x)."""
    turned = np.ascontiguousarray(np.rot90(astronaut))
    faces = detector.detect(turned)
    assert len(faces) == 1
    x1, y1, x2, y2 = astronaut_box
    np.testing.assert_allclose(faces[0].box, (y1, 511 - x2, y2, 511 - x1), atol=10)


def test_a_small_face_in_a_large_photo_is_found(detector, astronaut, astronaut_box):
    """Full-range pass and tiles: a 96 px face in a 2400 x 1800 photo (4% of its width)."""
    canvas = np.full((1800, 2400, 3), 200, np.uint8)
    canvas[1100:1612, 1500:2012] = astronaut
    faces = detector.detect(canvas)
    assert len(faces) == 1
    # found at about 12 px in a 192 px tile pass, so the box is coarser than for a close face
    expected = np.add(astronaut_box, [1500, 1100, 1500, 1100])
    centre = lambda box: np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])  # noqa: E731
    np.testing.assert_allclose(centre(faces[0].box), centre(expected), atol=20)
    assert faces[0].width == pytest.approx(96, rel=0.2)


# --------------------------------------------------------------------------- group photos, bounded work, model files


def _group_of_astronauts(face: int, across: int = 5, down: int = 4, cell: int = 320) -> tuple[np.ndarray, np.ndarray]:
    """``across`` x ``down`` astronaut heads with ``face`` px faces on grey; returns the photo and face centres."""
    head = samples.astronaut()[10:250, 105:345]  # her face is (72, 69)-(168, 165) of this square
    scale = face / 96
    side = round(240 * scale)
    photo = np.full((down * cell, across * cell, 3), 150, np.uint8)
    centres = []
    for k in range(across * down):
        x, y = (k % across) * cell + (k * 37) % (cell - side), (k // across) * cell + (k * 53) % (cell - side)
        picture = head[:, ::-1] if k % 2 else head
        photo[y : y + side, x : x + side] = cv2.resize(picture, (side, side), interpolation=cv2.INTER_AREA)
        centres.append((x + 120 * scale, y + 117 * scale))
    return photo, np.array(centres)


@pytest.mark.parametrize("face", [40, 50])
def test_a_group_of_small_faces_is_found(detector, face):
    """Twenty 40-50 px faces in a 1600 x 1280 photo (the old 640 px tiles found none of 20 at 60 px)."""
    photo, centres = _group_of_astronauts(face)
    faces = detector.detect(photo)
    found = np.array([((f.box[0] + f.box[2]) / 2, (f.box[1] + f.box[3]) / 2) for f in faces])
    distances = np.linalg.norm(centres[:, None] - found[None], axis=2)
    assert (distances.min(axis=1) < face / 3).sum() >= 19  # at least 95%
    assert len(faces) <= len(centres)  # no extra boxes
    assert all(f.width == pytest.approx(face, rel=0.3) for f in faces)


def test_no_extra_box_on_a_single_person_in_a_large_photo(detector, astronaut, astronaut_box):
    canvas = np.full((3000, 4000, 3), 120, np.uint8)
    canvas[600:2400, 800:2600] = cv2.resize(astronaut, (1800, 1800), interpolation=cv2.INTER_CUBIC)
    faces = detector.detect(canvas)
    assert len(faces) == 1
    expected = np.add(astronaut_box, [225, 171, 225, 171])
    np.testing.assert_allclose(np.array(faces[0].box) * 512 / 1800, expected, atol=12)


def test_the_work_is_bounded_by_pixels_not_sides():
    """However the 64 MP limit is shaped, the finest tiled level stays within MAX_LEVEL_PIXELS."""
    from faceage_lib.inference.detectors import blazeface

    for width, height in [(4000, 3000), (9238, 6928), (35_777, 1_788), (1_000, 50)]:
        scales = blazeface._level_scales(width, height)
        assert not scales or width * height * scales[0] ** 2 <= blazeface.MAX_LEVEL_PIXELS * 1.001
        tiles = sum(
            len(blazeface._tile_starts(round(width * s), 128)) * len(blazeface._tile_starts(round(height * s), 128))
            for s in scales
        )
        assert tiles <= 500, (width, height, tiles)
    assert blazeface._level_scales(4000, 3000)[0] == pytest.approx(blazeface.TILE_FACE / blazeface.MIN_FACE)


def test_a_corrupt_detector_file_is_refused(tmp_path, monkeypatch):
    import shutil

    from faceage_lib.errors import ModelFileError
    from faceage_lib.inference.detectors import blazeface

    flipped = bytearray(blazeface.SHORT_RANGE.read())
    flipped[len(flipped) // 2] ^= 0x01
    models = shutil.copytree(blazeface.MODELS_DIR, tmp_path / "models")
    monkeypatch.setattr(blazeface, "MODELS_DIR", models)
    (models / blazeface.SHORT_RANGE.filename).write_bytes(bytes(flipped))
    with pytest.raises(ModelFileError, match="does not match its checksum.*Reinstall faceage"):
        blazeface.BlazeFaceDetector()
    (models / blazeface.SHORT_RANGE.filename).unlink()
    with pytest.raises(ModelFileError, match="is missing"):
        blazeface.BlazeFaceDetector()
    (models / "manifest.json").unlink()  # the detector's files are checked against their manifest, as the model's
    with pytest.raises(ModelFileError, match="manifest.json is missing"):
        blazeface.BlazeFaceDetector()


def test_a_portrait_keeps_its_whole_photo_box_even_below_the_extra_score(detector, monkeypatch):
    """A face filling the frame (a UTKFace chip) is framed by the whole-photo pass as it always was,
    even when that pass scores it under 0.75: the shipped model was trained on those crops."""
    from faceage_lib.inference.detectors import blazeface

    row = np.zeros(17, np.float32)
    row[:4] = (10, 12, 190, 195)
    row[4:16] = np.tile([100, 100], 6)
    row[16] = 0.6
    monkeypatch.setattr(blazeface._BlazeFace, "__call__", lambda self, image, region, min_score: row[None].copy())
    monkeypatch.setattr(type(detector), "_search", lambda *a: pytest.fail("no search for a portrait"))
    faces = detector.detect(np.zeros((200, 200, 3), np.uint8))
    assert [face.box for face in faces] == [(10.0, 12.0, 190.0, 195.0)]


def _row(box, score: float) -> np.ndarray:
    from faceage_lib.inference.detectors import blazeface

    row = np.zeros(blazeface.ROW_SIZE, np.float32)
    row[blazeface.BOX] = box
    row[blazeface.LANDMARK_POINTS] = np.tile([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2], 6)
    row[blazeface.SCORE] = score
    return row


def test_a_doubtful_box_beside_a_large_face_needs_a_close_look(detector, monkeypatch):
    """A second, doubtful whole-photo box (hair, a chin, a shoulder beside the face) is kept only
    if a close look at it sees a face there, even when a large face made the other passes needless."""
    from faceage_lib.inference.detectors import blazeface

    face, hair = _row((60, 60, 160, 160), 0.93), _row((10, 10, 50, 50), 0.6)
    monkeypatch.setattr(blazeface._BlazeFace, "__call__", lambda self, image, region, min_score: np.stack([face, hair]))
    looked = []
    monkeypatch.setattr(
        type(detector),
        "_close_look",
        lambda self, image, rows: looked.append(rows) or np.zeros((len(rows), 17), np.float32),
    )
    faces = detector.detect(np.zeros((224, 224, 3), np.uint8))
    assert [f.box for f in faces] == [(60.0, 60.0, 160.0, 160.0)]
    assert len(looked) == 1 and looked[0][0, 0] == 10  # the hair was looked at, the face was not


def test_a_confident_faces_own_weaker_detections_need_no_close_look(detector, monkeypatch):
    """Doubtful rows that NMS merges into a confident face are that face's weaker anchors: kept (they
    take their share of its box) without a second pass; a doubtful row beside it is still looked at."""
    from faceage_lib.inference.detectors import blazeface

    face, weaker, beside = _row((60, 60, 160, 160), 0.93), _row((64, 58, 166, 162), 0.6), _row((150, 60, 220, 130), 0.6)
    rows = np.stack([face, weaker, beside])
    monkeypatch.setattr(blazeface._BlazeFace, "__call__", lambda self, image, region, min_score: rows.copy())
    looked = []
    monkeypatch.setattr(
        type(detector),
        "_close_look",
        lambda self, image, rows: looked.append(rows) or np.zeros((len(rows), 17), np.float32),
    )
    faces = detector.detect(np.zeros((224, 224, 3), np.uint8))
    assert [f.box for f in faces] == [blazeface._to_face(blazeface._merged(rows[:2])).box]
    assert len(looked) == 1 and [row[0] for row in looked[0]] == [150]  # only the row beside the face


def test_a_clear_face_takes_one_detector_pass(detector, astronaut, monkeypatch):
    """A 640x480 photo of one clear face (the astronaut's head, 288 px) is answered by the
    whole-photo pass alone: no close look, no other pass."""
    from faceage_lib.inference.detectors import blazeface

    photo = np.full((480, 640, 3), 90, np.uint8)
    photo[100:388, 200:488] = cv2.resize(astronaut[10:250, 105:345], (288, 288), interpolation=cv2.INTER_AREA)
    runs = []
    real = blazeface._BlazeFace.run
    monkeypatch.setattr(
        blazeface._BlazeFace, "run", lambda self, squares, *a: runs.append(len(squares)) or real(self, squares, *a)
    )
    assert len(detector.detect(photo)) == 1
    assert runs == [1]


def test_absorbed_needs_every_row_merged_into_a_confident_leader():
    from faceage_lib.inference.detectors import blazeface

    confident = np.stack([_row((0, 0, 100, 100), 0.95), _row((2, 0, 102, 100), 0.9), _row((300, 0, 400, 100), 0.8)])
    leaders = blazeface._leaders(confident)
    assert [row[0] for row in leaders] == [0, 300]  # the second row is merged into the first
    near, far = _row((10, 5, 110, 105), 0.6), _row((100, 0, 200, 100), 0.6)
    assert blazeface._absorbed(near[None], leaders)
    assert blazeface._absorbed(np.stack([near, _row((305, 0, 400, 95), 0.7)]), leaders)  # each by a leader
    assert not blazeface._absorbed(np.stack([near, far]), leaders)  # one row would stand alone
    assert not blazeface._absorbed(near[None], leaders[:0])  # no confident face


def test_squares_run_together_give_each_square_its_own_detections(detector, astronaut):
    """A run over several squares returns, for each, the rows that square gives alone, with its index."""
    from faceage_lib.inference.detectors import blazeface

    short = detector._short
    face = blazeface._normalise(cv2.resize(astronaut, (short.size, short.size)))
    blank = np.full_like(face, -1.0)
    alone, _ = short.run(face[None])
    rows, index = short.run(np.stack([blank, face, blank, face]))
    assert len(alone) and list(index) == [1] * len(alone) + [3] * len(alone)
    np.testing.assert_array_equal(rows, np.concatenate([alone, alone]))


def test_min_score_below_the_default_finds_a_faint_face(detector, astronaut):
    """``min_score`` is the whole-photo pass's bar (it was fixed at 0.5 before): a low-contrast face
    that pass scores about 0.4 is kept with ``min_score=0.05`` (a close look confirms it), with its
    whole-photo score; at the default only the other passes find it."""
    faint = np.clip((astronaut.astype(np.float32) - 128) * 0.072 + 160, 0, 255).astype(np.uint8)
    faces = detector.detect(faint, min_score=0.05)
    assert len(faces) == 1 and 0.2 < faces[0].score < 0.5
    assert faces[0].box[0] == pytest.approx(177, abs=15) and faces[0].box[1] == pytest.approx(79, abs=15)
    assert all(face.score >= 0.5 for face in detector.detect(faint))


@pytest.mark.parametrize("min_score", [0, -0.1, 1.5])
def test_min_score_out_of_range_is_refused(detector, astronaut, min_score):
    with pytest.raises(ValueError, match="min_score must be in"):
        detector.detect(astronaut, min_score=min_score)


def test_a_clear_face_takes_the_short_range_model_only(astronaut):
    """The full-range model is loaded when a photo first needs its pass: a clear portrait never does
    (a cold start loads one detector model, not two)."""
    from faceage_lib.inference.detectors.blazeface import BlazeFaceDetector

    detector = BlazeFaceDetector()
    assert len(detector.detect(np.ascontiguousarray(astronaut[20:220, 130:330]))) == 1  # a selfie's framing
    assert "_full" not in vars(detector)
    detector.detect(np.full((480, 640, 3), 128, np.uint8))  # nothing found: every pass looks
    assert "_full" in vars(detector)


@pytest.mark.parametrize("factor", [2, 3, 4, 5, 7])
@pytest.mark.parametrize("smooth", [False, True])
def test_the_detectors_shrink_is_opencvs_area_resize_pixel_for_pixel(factor, smooth):
    from faceage_lib.inference.detectors.blazeface import _shrunk

    rng = np.random.default_rng(factor)
    for width, height in [(128, 96), (96, 128), (41, 29)]:
        image = rng.integers(0, 256, (height * factor, width * factor, 3), dtype=np.uint8)
        image = cv2.GaussianBlur(image, (0, 0), 2) if smooth else image
        expected = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        np.testing.assert_array_equal(_shrunk(image, width, height), expected)
        odd = image[:-1]  # not a whole factor: OpenCV's resize itself
        np.testing.assert_array_equal(
            _shrunk(odd, width, height), cv2.resize(odd, (width, height), interpolation=cv2.INTER_AREA)
        )
