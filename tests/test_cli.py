"""The ``faceage`` command: ``data`` and ``predict`` (the feedback commands are tested with the store)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from conftest import MALFORMED
from PIL import Image
from skimage import data as samples

from faceage_lib import cli
from faceage_lib.training.utkface import read_manifest

FACE_KEYS = {"box", "score", "age", "age_low", "age_high", "gender", "gender_prob", "p_female"}


# --------------------------------------------------------------------------- faceage data


def test_cli_data_json(utkface_dir, tmp_path, capsys):
    work = tmp_path / "work"
    code = cli.main(["data", "--data-dir", str(utkface_dir["folder"]), "--work-dir", str(work), "--format", "json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert {"files", "unique_images", "skipped", "duplicates_removed", "split", "manifest"} <= set(summary)
    assert summary["files"] == 72
    assert summary["unique_images"] == 64
    assert summary["duplicates_removed"] == 3
    assert len(summary["skipped"]) == 5
    assert {s["file"] for s in summary["skipped"]} == set(MALFORMED)
    assert set(summary["split"]) == {"train", "val", "test"}
    assert sum(summary["split"].values()) == 64
    assert all(isinstance(v, int) and v > 0 for v in summary["split"].values())
    assert Path(summary["manifest"]) == work / "utkface_split.csv"
    manifest = read_manifest(summary["manifest"])
    assert manifest["split"].value_counts().to_dict() == summary["split"]


def test_cli_data_table(utkface_dir, tmp_path, capsys):
    code = cli.main(["data", "--data-dir", str(utkface_dir["folder"]), "--work-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "unique images       64" in out
    assert "duplicates removed  3" in out
    assert "readme.jpg: name does not start" in out


def test_cli_data_error_is_reported_not_raised(tmp_path, capsys):
    code = cli.main(["data", "--data-dir", str(tmp_path / "missing"), "--work-dir", str(tmp_path)])
    assert code == 1
    assert "neither a folder nor" in capsys.readouterr().err


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
                                 "gender", "gender_prob", "p_female", "error"]
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
