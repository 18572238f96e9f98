"""faceage_lib.predictor and ``faceage predict`` with the tiny test model (offline, no shipped model needed)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data as samples

from faceage_lib import cli
from faceage_lib.errors import ImageError
from faceage_lib.predictor import Analysis, FaceResult, Predictor

FACE_KEYS = {"box", "score", "age", "age_low", "age_high", "gender", "gender_prob"}


@pytest.fixture(scope="module")
def predictor(tiny_model_dir) -> Predictor:
    return Predictor(tiny_model_dir)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return samples.astronaut()


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
    face = FaceResult(box=(1, 2, 3, 4), score=0.9, age=34.2, age_low=29.0, age_high=41.0, gender="female",
                      gender_prob=0.8)
    values = face.to_dict()
    assert values == {"box": [1, 2, 3, 4], "score": 0.9, "age": 34.2, "age_low": 29.0, "age_high": 41.0,
                      "gender": "female", "gender_prob": 0.8}
    json.dumps(values)
    assert face.label == "F 34 (29-41)"


def test_flip_option(tiny_model_dir, astronaut):
    plain, flipped = Predictor(tiny_model_dir), Predictor(tiny_model_dir, flip=True)
    a, b = plain.predict(astronaut)[0], flipped.predict(astronaut)[0]
    assert a.box == b.box
    _check_face(b, 512, 512)


# --------------------------------------------------------------------------- faceage predict


@pytest.fixture(scope="module")
def photo_tree(tmp_path_factory, astronaut) -> Path:
    """photos/ with nested folders, a text file, a truncated JPEG and a photo without a face."""
    root = tmp_path_factory.mktemp("tree") / "photos"
    (root / "trip" / "day1").mkdir(parents=True)
    (root / "pets").mkdir()
    Image.fromarray(astronaut).save(root / "trip" / "day1" / "astronaut.png")
    Image.fromarray(samples.chelsea()).save(root / "pets" / "cat.jpg", quality=90)
    (root / "notes.txt").write_text("not a photo")
    buffer = io.BytesIO()
    Image.fromarray(astronaut).save(buffer, "JPEG", quality=90)
    (root / "trip" / "broken.jpg").write_bytes(buffer.getvalue()[:2000])
    return root


def _run_predict(args, capsys) -> tuple[int, str]:
    code = cli.main(["predict", *args])
    return code, capsys.readouterr().out


def test_cli_predict_json(photo_tree, tiny_model_dir, capsys):
    code, out = _run_predict([str(photo_tree), "--model", str(tiny_model_dir)], capsys)
    assert code == 0
    records = json.loads(out)
    by_name = {Path(r["path"]).name: r for r in records}
    assert sorted(by_name) == ["astronaut.png", "broken.jpg", "cat.jpg"]  # notes.txt is ignored
    assert [Path(r["path"]) for r in records] == sorted(Path(r["path"]) for r in records)
    for record in records:
        assert set(record) == {"path", "faces", "error"}
        for face in record["faces"]:
            assert set(face) == FACE_KEYS
    face = by_name["astronaut.png"]
    assert face["error"] is None and len(face["faces"]) == 1
    values = face["faces"][0]
    assert isinstance(values["box"], list) and len(values["box"]) == 4
    assert all(isinstance(v, int) for v in values["box"])
    assert values["gender"] in ("female", "male") and 0.5 <= values["gender_prob"] <= 1
    assert values["age_low"] <= values["age"] <= values["age_high"]
    assert by_name["cat.jpg"] == {"path": str(photo_tree / "pets" / "cat.jpg"), "faces": [], "error": None}
    broken = by_name["broken.jpg"]
    assert broken["faces"] == []
    assert "damaged or truncated" in broken["error"]


def test_cli_predict_json_matches_the_predictor(photo_tree, tiny_model_dir, predictor, capsys):
    path = photo_tree / "trip" / "day1" / "astronaut.png"
    _, out = _run_predict([str(path), "--model", str(tiny_model_dir)], capsys)
    assert json.loads(out) == [{"path": str(path), "faces": [f.to_dict() for f in predictor.predict(path)],
                                "error": None}]


def test_cli_predict_missing_file_is_reported(tmp_path, tiny_model_dir, capsys):
    code, out = _run_predict([str(tmp_path / "gone.jpg"), "--model", str(tiny_model_dir)], capsys)
    assert code == 0
    [record] = json.loads(out)
    assert record["faces"] == [] and "no such file" in record["error"]


def test_cli_predict_csv(photo_tree, tiny_model_dir, capsys):
    code, out = _run_predict([str(photo_tree), "--model", str(tiny_model_dir), "--format", "csv"], capsys)
    assert code == 0
    reader = csv.DictReader(io.StringIO(out))
    assert reader.fieldnames == ["path", "face", "x1", "y1", "x2", "y2", "score", "age", "age_low", "age_high",
                                 "gender", "gender_prob", "error"]
    rows = {Path(row["path"]).name: row for row in reader}
    assert sorted(rows) == ["astronaut.png", "broken.jpg", "cat.jpg"]
    face = rows["astronaut.png"]
    assert face["face"] == "0" and face["error"] == ""
    x1, y1, x2, y2 = (int(face[k]) for k in ("x1", "y1", "x2", "y2"))
    assert 0 <= x1 < x2 <= 512 and 0 <= y1 < y2 <= 512
    assert face["gender"] in ("female", "male")
    assert float(face["age_low"]) <= float(face["age"]) <= float(face["age_high"])
    assert rows["cat.jpg"]["face"] == "" and rows["cat.jpg"]["error"] == "" and rows["cat.jpg"]["age"] == ""
    assert rows["broken.jpg"]["face"] == "" and "truncated" in rows["broken.jpg"]["error"]


def test_cli_predict_out_file(photo_tree, tiny_model_dir, tmp_path, capsys):
    target = tmp_path / "results.json"
    code, out = _run_predict([str(photo_tree), "--model", str(tiny_model_dir), "--out", str(target)], capsys)
    assert code == 0 and out == ""
    assert len(json.loads(target.read_text())) == 3
    target_csv = tmp_path / "results.csv"
    code, out = _run_predict([str(photo_tree), "--model", str(tiny_model_dir), "--format", "csv", "--out",
                              str(target_csv)], capsys)
    assert code == 0 and out == ""
    assert len(list(csv.DictReader(target_csv.open()))) == 3


def test_cli_predict_bad_model(photo_tree, tmp_path, capsys):
    code = cli.main(["predict", str(photo_tree), "--model", str(tmp_path)])
    assert code == 1
    assert "manifest.json is missing" in capsys.readouterr().err


def test_image_files_walks_folders_in_order(photo_tree, tmp_path):
    extra = tmp_path / "single.JPG"
    extra.write_bytes(b"")
    found = cli.image_files([str(photo_tree), str(extra)])
    assert found == [photo_tree / "pets" / "cat.jpg", photo_tree / "trip" / "broken.jpg",
                     photo_tree / "trip" / "day1" / "astronaut.png", extra]
