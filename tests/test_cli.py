"""The ``faceage`` command: ``data``, ``predict``, help and version (the feedback commands are tested
with the store)."""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import MALFORMED
from PIL import Image
from skimage import data as samples

import faceage_lib
from faceage_lib import cli
from faceage_lib.batch.formats import csv_cell
from faceage_lib.batch.inputs import image_files
from faceage_lib.data.dataset import read_manifest

FACE_KEYS = {"face", "box", "score", "age", "age_low", "age_high", "gender", "gender_prob", "p_female", "p_under_18"}


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
    assert code == cli.EXIT_PARTIAL  # broken.jpg could not be read
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


def test_cli_numbers_a_staggered_row_left_to_right(astronaut, astronaut_face, tiny_model_dir, tmp_path, capsys):
    """Three people in a row, the middle one half a face lower: one row, numbered left to right
    (the app and the drawing number faces in the Predictor's order, which this is)."""
    x1, y1, x2, y2 = (int(v) for v in astronaut_face.box)
    cx, cy = (x1 + x2) // 2, (y1 + y2) // 2
    patch = astronaut[cy - 75 : cy + 75, cx - 70 : cx + 70]
    canvas = np.full((260, 480, 3), 200, np.uint8)
    for x, y in [(10, 10), (170, 60), (330, 10)]:
        canvas[y : y + 150, x : x + 140] = patch
    Image.fromarray(canvas).save(tmp_path / "row.png")
    code, out = _run_predict([str(tmp_path / "row.png"), "--model", str(tiny_model_dir)], capsys)
    faces = json.loads(out)[0]["faces"]
    assert code == 0 and [face["face"] for face in faces] == [1, 2, 3]
    lefts = [face["box"][0] for face in faces]
    assert lefts == sorted(lefts) and faces[1]["box"][1] > faces[0]["box"][1] + 30  # the middle one, lower


def test_cli_predict_json_matches_the_predictor(photo_tree, tiny_model_dir, predictor, capsys):
    path = photo_tree / "trip" / "day1" / "astronaut.png"
    _, out = _run_predict([str(path), "--model", str(tiny_model_dir)], capsys)
    faces = [{"face": n, **f.to_dict()} for n, f in enumerate(predictor.predict(path), 1)]  # numbered from 1
    assert json.loads(out) == [{"path": str(path), "faces": faces, "error": None}]


def test_cli_predict_missing_file_is_reported(tmp_path, tiny_model_dir, capsys):
    code = cli.main(["predict", str(tmp_path / "gone.jpg"), "--model", str(tiny_model_dir)])
    captured = capsys.readouterr()
    assert code == cli.EXIT_PARTIAL == 3  # every file failed: not a success
    [record] = json.loads(captured.out)
    assert record["faces"] == [] and "no such file" in record["error"]
    assert captured.err == f"faceage: {tmp_path / 'gone.jpg'}: no such file\n"


def test_cli_predict_exit_code(photo_tree, tiny_model_dir, tmp_path, capsys):
    good = str(photo_tree / "trip" / "day1" / "astronaut.png")
    assert cli.main(["predict", good, "--model", str(tiny_model_dir)]) == 0
    assert capsys.readouterr().err == ""
    assert cli.main(["predict", good, str(tmp_path / "gone.jpg"), "--model", str(tiny_model_dir)]) == 3
    assert capsys.readouterr().err.count("\n") == 1  # one line per file that failed
    (tmp_path / "empty").mkdir()
    assert cli.main(["predict", str(tmp_path / "empty"), "--model", str(tiny_model_dir)]) == 1
    assert "no image files found" in capsys.readouterr().err


@pytest.mark.parametrize("out", ["missing/results.json", "."])
def test_cli_predict_bad_out_fails_before_the_work(photo_tree, tmp_path, capsys, out):
    """Checked first: not after every photo was analysed, and before the model is loaded."""
    code = cli.main(["predict", str(photo_tree), "--model", str(tmp_path / "no-model"), "--out", str(tmp_path / out)])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert ("does not exist" if "missing" in out else "is a folder") in err
    assert "Traceback" not in err and "manifest" not in err


def test_cli_predict_csv_neutralises_formulas(tiny_model_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    names = ['=HYPERLINK("evil","click").jpg', "+1.jpg", "-1.jpg", "@SUM(1).jpg", "plain.jpg"]
    code, out = _run_predict(["--model", str(tiny_model_dir), "--format", "csv", "--", *names], capsys)
    assert code == 3  # none of them exists
    paths = [row["path"] for row in csv.DictReader(io.StringIO(out))]
    assert paths == [f"'{name}" for name in names[:4]] + ["plain.jpg"]


def test_csv_cells():
    assert [csv_cell(v) for v in ("=1+1", "\t=1", "ok", "", -3, 0.5, None)] == [
        "'=1+1",
        "'\t=1",
        "ok",
        "",
        -3,
        0.5,
        None,
    ]


def test_cli_predict_csv(photo_tree, tiny_model_dir, capsys):
    code, out = _run_predict([str(photo_tree), "--model", str(tiny_model_dir), "--format", "csv"], capsys)
    assert code == 3
    reader = csv.DictReader(io.StringIO(out))
    assert reader.fieldnames == [
        "path",
        "face",
        "x1",
        "y1",
        "x2",
        "y2",
        "score",
        "age",
        "age_low",
        "age_high",
        "gender",
        "gender_prob",
        "p_female",
        "p_under_18",
        "check",
        "error",
    ]
    rows = {Path(row["path"]).name: row for row in reader}
    assert sorted(rows) == ["astronaut.png", "broken.jpg", "cat.jpg"]
    face = rows["astronaut.png"]
    assert face["face"] == "1" and face["error"] == ""
    x1, y1, x2, y2 = (int(face[k]) for k in ("x1", "y1", "x2", "y2"))
    assert 0 <= x1 < x2 <= 512 and 0 <= y1 < y2 <= 512
    assert face["gender"] in ("female", "male")
    assert float(face["age_low"]) <= float(face["age"]) <= float(face["age_high"])
    assert rows["cat.jpg"]["face"] == "" and rows["cat.jpg"]["error"] == "" and rows["cat.jpg"]["age"] == ""
    assert rows["broken.jpg"]["face"] == "" and "truncated" in rows["broken.jpg"]["error"]


def test_cli_predict_challenge_age(photo_tree, tiny_model_dir, capsys):
    assert cli.main(["predict", str(photo_tree), "--model", str(tiny_model_dir), "--challenge-age", "200"]) == 1
    assert "--challenge-age is an age" in capsys.readouterr().err
    for age, check in ((25, None), (0.5, "pass")):
        code, out = _run_predict([str(photo_tree), "--model", str(tiny_model_dir), "--challenge-age", str(age)], capsys)
        (face,) = next(r for r in json.loads(out) if r["path"].endswith("astronaut.png"))["faces"]
        assert face["check"] == (check or ("challenge" if face["age"] < 25 else "pass"))
        assert 0 <= face["p_under_18"] <= 1
    code, out = _run_predict([str(photo_tree), "--model", str(tiny_model_dir), "--format", "csv"], capsys)
    assert all(row["check"] == "" for row in csv.DictReader(io.StringIO(out)))  # no check unless asked


def test_cli_train_resume_keeps_the_runs_own_settings(tmp_path, capsys):
    assert cli.main(["train", "--resume", str(tmp_path), "--epochs", "3"]) == 1
    assert "drop --epochs" in capsys.readouterr().err
    assert cli.main(["train", "--resume", str(tmp_path)]) == 1
    assert "nothing to resume" in capsys.readouterr().err


def test_cli_predict_out_file(photo_tree, tiny_model_dir, tmp_path, capsys):
    target = tmp_path / "results.json"
    code, out = _run_predict([str(photo_tree), "--model", str(tiny_model_dir), "--out", str(target)], capsys)
    assert code == 3 and out == ""
    assert len(json.loads(target.read_text())) == 3
    target_csv = tmp_path / "results.csv"
    code, out = _run_predict(
        [str(photo_tree), "--model", str(tiny_model_dir), "--format", "csv", "--out", str(target_csv)], capsys
    )
    assert code == 3 and out == ""
    assert len(list(csv.DictReader(target_csv.open()))) == 3


def test_cli_predict_bad_model(photo_tree, tmp_path, capsys):
    code = cli.main(["predict", str(photo_tree), "--model", str(tmp_path)])
    assert code == 1
    assert "manifest.json is missing" in capsys.readouterr().err


def test_image_files_walks_folders_in_order(photo_tree, tmp_path):
    extra = tmp_path / "single.JPG"
    extra.write_bytes(b"")
    found = list(image_files([str(photo_tree), str(extra)]))
    assert found == [
        photo_tree / "pets" / "cat.jpg",
        photo_tree / "trip" / "broken.jpg",
        photo_tree / "trip" / "day1" / "astronaut.png",
        extra,
    ]


# --------------------------------------------------------------------------- help and version


def subcommands(parser: argparse.ArgumentParser, prefix: str = "faceage"):
    """(name, parser) of every command and sub-action, depth first."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{prefix} {name}", sub
                yield from subcommands(sub, f"{prefix} {name}")


def test_every_option_has_help_and_shows_its_default():
    commands = dict(subcommands(cli.build_parser()))
    assert {"faceage predict", "faceage app", "faceage feedback list", "faceage feedback export"} <= set(commands)
    for name, parser in commands.items():
        formatter = parser._get_formatter()
        for action in parser._actions:
            if not action.option_strings or action.dest == "help":
                continue
            text = formatter._expand_help(action) if action.help else ""
            assert text, f"{name} {action.option_strings[0]} has no help"
            if not action.required:
                assert "default" in text, f"{name} {action.option_strings[0]} does not show its default: {text}"


def test_a_command_built_alone_is_the_command_of_the_whole_parser():
    """main() builds only the command it runs: each one alone has the options it has in the whole."""
    whole = dict(subcommands(cli.build_parser()))
    assert [name.split()[1] for name in whole if name.count(" ") == 1] == list(cli.COMMANDS)
    for command in cli.COMMANDS:
        alone = dict(subcommands(cli.build_parser(command)))
        assert {name.split()[1] for name in alone} == {command}
        for name, parser in alone.items():
            options = [(a.dest, a.option_strings, a.default, a.required) for a in parser._actions]
            assert options == [(a.dest, a.option_strings, a.default, a.required) for a in whole[name]._actions]


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"faceage {faceage_lib.__version__}"
