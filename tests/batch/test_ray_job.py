"""``faceage predict --engine ray`` on a local Ray instance (2 CPUs): the single-machine results, each photo once."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from faceage_lib import cli
from faceage_lib.batch import formats, ray_job
from faceage_lib.batch.job import predict_corpus
from faceage_lib.batch.ray_job import predict_on_ray

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'faceage[scale]')")


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


def _rows(table) -> list[tuple]:
    return sorted(tuple(row.values()) for row in table.to_pylist())


def test_ray_matches_the_single_machine_path(corpus, tiny_model_dir, tmp_path, capsys):
    root, files = corpus
    out = tmp_path / "ray"
    missing = str(root / "gone.jpg")
    code = cli.main(
        [
            "predict",
            str(root),
            missing,
            "--engine",
            "ray",
            "--format",
            "parquet",
            "--workers",
            "2",
            "--model",
            str(tiny_model_dir),
            "--out",
            str(out),
        ]
    )
    assert code == cli.EXIT_PARTIAL  # broken.jpg and gone.jpg; the job itself did not fail
    err = capsys.readouterr().err
    assert "broken.jpg" in err and "gone.jpg: no such file" in err
    table = pq.read_table(out)
    assert table.schema == formats.parquet_schema()
    photos = [p for p, f in zip(table.column("path").to_pylist(), table.column("face").to_pylist()) if f in (None, 1)]
    assert sorted(photos) == sorted([str(p) for p in files] + [missing])  # every photo, exactly once

    local = tmp_path / "local.parquet"
    predict_corpus([str(root), missing], "parquet", str(local), model=str(tiny_model_dir), report=lambda _: None)
    assert _rows(table) == _rows(pq.read_table(local))


def test_a_rerun_into_the_same_folder_replaces_it(corpus, tiny_model_dir, tmp_path):
    out = tmp_path / "ray"
    for actors in (1, 1):
        summary = predict_on_ray([str(corpus[0])], str(out), actors, str(tiny_model_dir), report=lambda _: None)
    assert (summary.written, summary.failed) == (11, 1)
    assert sorted(set(pq.read_table(out).column("path").to_pylist())) == [str(p) for p in corpus[1]]
    assert pq.read_table(out).num_rows == 11  # one face or one row per photo: nothing twice


def _photos(table) -> list[str]:
    """The path of each photo in result rows (its first face's row, or its only row)."""
    return sorted(
        p for p, f in zip(table.column("path").to_pylist(), table.column("face").to_pylist()) if f in (None, 1)
    )


def test_resume_after_an_interruption_ends_with_every_photo_once(corpus, tiny_model_dir, tmp_path, monkeypatch, capsys):
    root, files = corpus
    out = tmp_path / "ray"
    missing = str(root / "gone.jpg")
    monkeypatch.setattr(ray_job, "BATCH_SIZE", 2)  # 6 blocks of 2 photos
    monkeypatch.setattr(ray_job, "ROWS_PER_FILE", 1)  # a file per block
    write, tables = ray_job.PartWriter.write, []

    def interrupted(self, table):
        if len(tables) == 3:
            raise KeyboardInterrupt
        tables.append(table)
        write(self, table)

    monkeypatch.setattr(ray_job.PartWriter, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        predict_on_ray([str(root), missing], str(out), 2, str(tiny_model_dir), report=lambda _: None)
    monkeypatch.setattr(ray_job.PartWriter, "write", write)
    parts = sorted(out.glob("part-*.parquet"))
    assert len(parts) == 3
    before = {p for part in parts[:2] for p in _photos(pq.read_table(part))}
    parts[2].write_bytes(parts[2].read_bytes()[:100])  # a file cut off while it was written
    (out / ".part-x-000009.tmp").write_bytes(b"PAR1")  # one being written under its hidden name

    args = ["predict", str(root), missing, "--engine", "ray", "--format", "parquet", "--resume"]
    code = cli.main([*args, "--workers", "2", "--model", str(tiny_model_dir), "--out", str(out)])
    assert code == cli.EXIT_PARTIAL
    assert f"{len(before)} photos were already in {out}" in capsys.readouterr().err
    assert not parts[2].exists() and not (out / ".part-x-000009.tmp").exists()
    table = pq.read_table(out)
    assert _photos(table) == sorted([str(p) for p in files] + [missing])  # every photo, exactly once
    local = tmp_path / "local.parquet"
    predict_corpus([str(root), missing], "parquet", str(local), model=str(tiny_model_dir), report=lambda _: None)
    assert _rows(table) == _rows(pq.read_table(local))

    summary = predict_on_ray([str(root), missing], str(out), 2, str(tiny_model_dir), resume=True)
    assert (summary.written, summary.skipped) == (0, len(files) + 1)  # nothing left: Ray is not asked
    assert _photos(pq.read_table(out)) == sorted([str(p) for p in files] + [missing])


def test_uris_are_listed_counted_and_read_through_pyarrow(corpus, tiny_model_dir, tmp_path):
    root, files = corpus
    uri, gone = f"file://{root}", f"file://{root}/gone.jpg"
    out = f"file://{tmp_path}/ray"
    photos = ray_job.list_photos([uri, gone])
    assert photos.paths == [f"file://{p}" for p in files]
    assert [r.path for r in photos.missing] == [gone]
    failed: list[str] = []
    summary = predict_on_ray([uri, gone], out, 2, str(tiny_model_dir), report=failed.append)
    assert (summary.written, summary.failed) == (len(files) + 1, 2)
    assert any("broken.jpg" in line for line in failed) and any("gone.jpg: no such file" in line for line in failed)
    table = pq.read_table(tmp_path / "ray")
    local = tmp_path / "local.parquet"
    predict_corpus([str(root)], "parquet", str(local), model=str(tiny_model_dir), report=lambda _: None)
    expected = [(f"file://{row[0]}", *row[1:]) for row in _rows(pq.read_table(local))]
    got = [row for row in _rows(table) if row[0] != gone]
    assert [row[:3] for row in got] == [row[:3] for row in expected]  # path, width, height
    assert [row[3:-1] for row in got] == [row[3:-1] for row in expected]  # faces
    assert [Path(row[0]).name for row in got if row[-1]] == ["broken.jpg"]
