"""``faceage predict`` on a corpus: streaming formats, workers, resume, inputs, error rows."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from faceage_lib import cli
from faceage_lib.batch import formats
from faceage_lib.batch.inputs import image_files
from faceage_lib.batch.job import predict_corpus
from faceage_lib.inference.predictor import Predictor


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def reference(corpus, tiny_model_dir, tmp_path_factory) -> list[dict]:
    """The jsonl records of one in-process worker: what every other way must match."""
    out = tmp_path_factory.mktemp("reference") / "all.jsonl"
    predict_corpus([str(corpus[0])], "jsonl", str(out), workers=1, model=str(tiny_model_dir), report=lambda _: None)
    return _jsonl(out)


def test_jsonl_has_one_object_per_photo_in_path_order(reference, corpus):
    assert [r["path"] for r in reference] == [str(p) for p in corpus[1]]
    by_name = {Path(r["path"]).name: r for r in reference}
    assert all(len(by_name[f"face{k:02d}.jpg"]["faces"]) == 1 for k in range(8))
    assert by_name["cat.jpg"]["faces"] == [] and by_name["cat.jpg"]["error"] is None
    assert "damaged or truncated" in by_name["broken.jpg"]["error"]


def test_two_workers_give_the_same_records(reference, corpus, tiny_model_dir, tmp_path):
    out = tmp_path / "two.jsonl"
    summary = predict_corpus(
        [str(corpus[0])], "jsonl", str(out), workers=2, model=str(tiny_model_dir), report=lambda _: None
    )
    assert _jsonl(out) == reference
    assert (summary.written, summary.failed) == (11, 1)


def test_csv_and_parquet_hold_the_same_rows(reference, corpus, tiny_model_dir, tmp_path):
    rows = [row for record in reference for row in _rows(record)]
    for fmt in ("csv", "parquet"):
        out = tmp_path / f"all.{fmt}"
        predict_corpus([str(corpus[0])], fmt, str(out), model=str(tiny_model_dir), report=lambda _: None)
        if fmt == "csv":
            got = [(r["path"], r["face"], r["age"], r["error"]) for r in csv.DictReader(out.open())]
            assert got == [
                (p, "" if f is None else str(f), "" if a is None else str(a), e or "") for p, f, a, e in rows
            ]
        else:
            table = pq.read_table(out)
            assert table.schema == formats.parquet_schema()
            assert list(zip(*(table.column(c).to_pylist() for c in ("path", "face", "age", "error")))) == rows
            sizes = dict(zip(table.column("path").to_pylist(), table.column("width").to_pylist()))
            assert sizes[str(corpus[0] / "cam1" / "face01.jpg")] == 256
            assert not formats.partial_folder(out).exists()


def _rows(record: dict) -> list[tuple]:
    return [(record["path"], k, face["age"], None) for k, face in enumerate(record["faces"], 1)] or [
        (record["path"], None, None, record["error"])
    ]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_resume_redoes_a_partial_last_line(reference, corpus, tiny_model_dir, tmp_path, fmt):
    full = tmp_path / f"full.{fmt}"
    predict_corpus([str(corpus[0])], fmt, str(full), model=str(tiny_model_dir), report=lambda _: None)
    text = full.read_bytes()
    cut = tmp_path / f"cut.{fmt}"
    cut.write_bytes(text[: len(text) // 2 - 7])  # mid-line
    summary = predict_corpus(
        [str(corpus[0])], fmt, str(cut), model=str(tiny_model_dir), resume=True, report=lambda _: None
    )
    assert cut.read_bytes() == text
    assert summary.skipped + summary.written == len(corpus[1]) and summary.skipped > 0


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_resume_after_an_interruption_keeps_every_photo_once(corpus, tiny_model_dir, tmp_path, monkeypatch, fmt):
    out = tmp_path / f"run.{fmt}"
    monkeypatch.setattr(formats, "PHOTOS_PER_PART", 3)
    writer_class = type(formats.open_writer(fmt, str(tmp_path / f"probe.{fmt}")))
    original = writer_class.write

    def interrupted(self, result):
        if Path(result.path).name == "face03.jpg":
            raise KeyboardInterrupt
        original(self, result)

    monkeypatch.setattr(writer_class, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        predict_corpus([str(corpus[0])], fmt, str(out), model=str(tiny_model_dir), report=lambda _: None)
    monkeypatch.setattr(writer_class, "write", original)
    summary = predict_corpus(
        [str(corpus[0])], fmt, str(out), model=str(tiny_model_dir), resume=True, report=lambda _: None
    )
    assert summary.skipped > 0
    if fmt == "jsonl":
        paths = [r["path"] for r in _jsonl(out)]
    elif fmt == "csv":
        paths = [r["path"] for r in csv.DictReader(out.open()) if r["face"] in ("", "1")]
    else:
        table = pq.read_table(out)
        faces = table.column("face").to_pylist()
        paths = [p for p, f in zip(table.column("path").to_pylist(), faces) if f in (None, 1)]
    assert sorted(paths) == [str(p) for p in corpus[1]]  # every photo, exactly once


def test_globs_and_list_files(corpus, tiny_model_dir, tmp_path, capsys):
    root = corpus[0]
    listing = tmp_path / "list.txt"
    listing.write_text(f"# the cats\n{root / 'cam1' / 'cat.jpg'}\n\n{root / 'cam2' / 'night' / 'cat.png'}\n")
    code = cli.main(
        [
            "predict",
            str(root / "cam*" / "face0[01].jpg"),
            "--from-list",
            str(listing),
            "--model",
            str(tiny_model_dir),
            "--format",
            "jsonl",
            "--workers",
            "1",
        ]
    )
    assert code == 0
    paths = [json.loads(line)["path"] for line in capsys.readouterr().out.splitlines()]
    assert paths == [
        str(root / "cam1" / "face01.jpg"),
        str(root / "cam2" / "face00.jpg"),
        str(root / "cam1" / "cat.jpg"),
        str(root / "cam2" / "night" / "cat.png"),
    ]
    assert list(image_files([str(root / "**" / "*.png")])) == [root / "cam2" / "night" / "cat.png"]


def test_any_failure_of_one_photo_is_an_error_row_and_exit_3(corpus, tiny_model_dir, tmp_path, monkeypatch, capsys):
    analyze = Predictor.analyze

    def flaky(self, image, boxes=None):
        if Path(str(image)).name == "face02.jpg":
            raise RuntimeError("decoder crashed")
        return analyze(self, image, boxes)

    monkeypatch.setattr(Predictor, "analyze", flaky)
    out = tmp_path / "out.jsonl"
    code = cli.main(
        [
            "predict",
            str(corpus[0]),
            "--model",
            str(tiny_model_dir),
            "--format",
            "jsonl",
            "--out",
            str(out),
            "--workers",
            "1",
        ]
    )
    assert code == cli.EXIT_PARTIAL
    records = {Path(r["path"]).name: r for r in _jsonl(out)}
    assert len(records) == 11 and "RuntimeError: decoder crashed" in records["face02.jpg"]["error"]
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "face02.jpg" in err and "broken.jpg" in err


def test_resume_refuses_json_and_parquet_needs_a_file(corpus, tiny_model_dir, tmp_path, capsys):
    assert cli.main(["predict", str(corpus[0]), "--resume", "--out", str(tmp_path / "a.json")]) == 1
    assert "--resume needs --format jsonl" in capsys.readouterr().err
    assert cli.main(["predict", str(corpus[0]), "--format", "parquet"]) == 1
    assert "give --out" in capsys.readouterr().err
