"""``faceage predict --engine ray``: the same prediction as a Ray Data job, on one machine or a cluster.

Image files are read as bytes (local paths, or any URI pyarrow knows: ``s3://``, ``gs://``, ``hdfs://``),
decoded, detected and predicted in ``map_batches`` by actors that each load the :class:`Predictor` once,
and written as Parquet files with the single-machine schema (:func:`faceage_lib.batch.formats.parquet_schema`).
Rows come in no fixed order; each carries its photo's ``path``. Needs ``pip install "faceage[scale]"``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .formats import face_rows, rows_table
from .inputs import corpus_files
from .job import RunSummary, failure_line, to_stderr
from .photos import PhotoResult, predict_photo

#: Photos per batch an actor predicts.
BATCH_SIZE = 16


class PredictBatch:
    """A Ray Data actor: loads the predictor once, then turns batches of ``{"path", "bytes"}`` into result rows."""

    def __init__(self, model: str | None, flip: bool):
        from ..inference.predictor import Predictor

        self.predictor = Predictor(model, flip=flip, num_threads=1)

    def __call__(self, batch: dict[str, np.ndarray]):
        rows = []
        for path, data in zip(batch["path"], batch["bytes"]):
            rows += face_rows(predict_photo(self.predictor, str(path), bytes(data)))
        return rows_table(rows)


def predict_on_ray(
    paths: Sequence[str],
    out: str,
    actors: int,
    model: str | None = None,
    flip: bool = False,
    address: str | None = None,
    report=to_stderr,
    list_file: str | None = None,
) -> RunSummary:
    """Predict every photo of ``paths`` on Ray into the Parquet folder ``out``; local files that do not exist
    become error rows in ``out/missing.parquet``. Joins the cluster at ``address`` unless Ray is running here."""
    from ..errors import FaceAgeError

    try:
        import ray
        import ray.data
    except ImportError:
        raise FaceAgeError("--engine ray needs Ray (pip install 'faceage[scale]')") from None

    uris = [name for name in paths if "://" in name]
    local = [str(path) for path in corpus_files([name for name in paths if "://" not in name], list_file)]
    found = [path for path in local if os.path.isfile(path)]
    missing = [PhotoResult(path, error=f"{path}: no such file") for path in local if not os.path.isfile(path)]
    if not (uris or local):
        raise FaceAgeError(f"no image files found in {', '.join([*paths, *filter(None, [list_file])])}")
    if not ray.is_initialized():
        options: dict[str, Any] = {} if address or os.environ.get("RAY_ADDRESS") else {"include_dashboard": False}
        ray.init(address=address, log_to_driver=False, **options)
    if uris or found:
        _dataset(uris + found, model, flip, actors).write_parquet(out, mode=ray.data.SaveMode.OVERWRITE)
    if missing:
        import pyarrow.parquet as pq

        if "://" not in out:
            Path(out).mkdir(parents=True, exist_ok=True)
        pq.write_table(
            rows_table([row for result in missing for row in face_rows(result)]), f"{out.rstrip('/')}/missing.parquet"
        )
    failed = _failures(out)
    for result in failed:
        report(failure_line(result))
    return RunSummary(written=len(local), failed=len(failed))


def _dataset(paths: list[str], model: str | None, flip: bool, actors: int):
    """Read the files as bytes, predict in batches on ``actors`` actors of one CPU each."""
    import ray.data

    from ..inference.images import IMAGE_EXTENSIONS

    files = ray.data.read_binary_files(
        paths,
        include_paths=True,
        num_cpus=0,  # reading waits on I/O: no CPU kept
        file_extensions=sorted(ext[1:] for ext in IMAGE_EXTENSIONS),
    )
    return files.map_batches(
        PredictBatch,
        fn_constructor_args=(model, flip),
        batch_size=BATCH_SIZE,
        num_cpus=1,
        compute=ray.data.ActorPoolStrategy(size=actors),
        batch_format="numpy",
    )


def _failures(out: str) -> list[PhotoResult]:
    """The photos of the Parquet output ``out`` that have an error."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    table = ds.dataset(out, format="parquet").to_table(columns=["path", "error"], filter=pc.field("error").is_valid())
    return [PhotoResult(row["path"], error=row["error"]) for row in table.to_pylist()]
