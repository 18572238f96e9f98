"""``faceage predict --engine ray`` on a local Ray instance (2 CPUs): the single-machine results, each photo once."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from faceage_lib import cli
from faceage_lib.batch import formats
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
