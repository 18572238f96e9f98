"""``faceage predict --engine ray``: the same prediction as a Ray Data job, on one machine or a cluster.

The driver lists the photos (local files, folders, globs and list files as on one machine, and any URI
pyarrow knows: ``s3://``, ``gs://``, ``hdfs://``, ``file://``), so it knows how many there are and, with
``resume``, which the output already holds. Their paths go, in blocks of a few batches, to actors that
each load the :class:`Predictor` once and read, decode, detect and predict each photo as a local worker
does (a local file is opened by its path; a URI's bytes are fetched a batch at a time, on threads). The
result rows come back to the driver (about 200 bytes a face), which writes them as Parquet files of the
single-machine schema (:func:`faceage_lib.batch.formats.parquet_schema`) to the output folder, counts the
photos and shows the progress. Rows come in no fixed order; each carries its photo's ``path``.

There are no read or write tasks: on 2 cores, Ray's read tasks started a worker process each (22-24),
the photos' bytes went through the object store, and write tasks that kept a CPU waited behind the actors
until the end. Needs ``pip install "faceage[scale]"``.
"""

from __future__ import annotations

import math
import os
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np

from .formats import PHOTOS_PER_PART, face_rows, rows_table
from .inputs import corpus_files
from .job import RunSummary, failure_line, to_stderr
from .photos import PhotoResult, predict_photo

#: Photos per batch an actor predicts.
BATCH_SIZE = 16
#: The most blocks the list of photos is cut into (more photos: more per block). A block is the unit an
#: actor is given, so small blocks spread the end of a run over the actors; Ray keeps each one as an object.
MAX_BLOCKS = 2000
#: Threads per actor that fetch a batch's photos from a URI (a local file is read by the predicting thread).
FETCH_THREADS = 8
#: Rows per Parquet file of the output (as the parts of a local run).
ROWS_PER_FILE = PHOTOS_PER_PART


@dataclass
class Photos:
    """What a run reads: each photo's ``path`` (as written to the output), the filesystem it is read from
    (an index into ``filesystems``; -1: a local file, opened by path) and its place there."""

    paths: list[str] = field(default_factory=list)
    sources: list[int] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)
    filesystems: list[Any] = field(default_factory=list)
    missing: list[PhotoResult] = field(default_factory=list)

    def add(self, path: str, source: int = -1, location: str | None = None) -> None:
        self.paths.append(path)
        self.sources.append(source)
        self.locations.append(path if location is None else location)

    def without(self, done: set[str]) -> Photos:
        """These photos less those whose path is in ``done``."""
        rest = Photos(filesystems=self.filesystems, missing=[r for r in self.missing if r.path not in done])
        for path, source, location in zip(self.paths, self.sources, self.locations):
            if path not in done:
                rest.add(path, source, location)
        return rest

    def items(self) -> list[dict]:
        return [
            {"path": path, "source": source, "location": location}
            for path, source, location in zip(self.paths, self.sources, self.locations)
        ]


def list_photos(paths: Sequence[str], list_file: str | None = None) -> Photos:
    """The photos of ``paths`` and ``list_file``: local ones as :func:`corpus_files` finds them, and each URI's
    files (a folder's image files, recursively, sorted). A file that does not exist is in ``missing``."""
    photos = Photos()
    for path in corpus_files([name for name in paths if "://" not in name], list_file):
        if os.path.isfile(path):
            photos.add(str(path))
        else:
            photos.missing.append(PhotoResult(str(path), error=f"{path}: no such file"))
    for uri in (name for name in paths if "://" in name):
        _list_uri(uri, photos)
    return photos


def _list_uri(uri: str, photos: Photos) -> None:
    from pyarrow import fs

    from ..inference.images import IMAGE_EXTENSIONS

    filesystem, location = fs.FileSystem.from_uri(uri)
    info = filesystem.get_file_info(location)
    if info.type == fs.FileType.NotFound:
        photos.missing.append(PhotoResult(uri, error=f"{uri}: no such file"))
        return
    photos.filesystems.append(filesystem)
    source = len(photos.filesystems) - 1
    if info.type != fs.FileType.Directory:
        photos.add(uri, source, location)
        return
    base, prefix = location.rstrip("/"), uri.rstrip("/")
    found = filesystem.get_file_info(fs.FileSelector(location, recursive=True))
    for file in sorted((f.path for f in found if f.type == fs.FileType.File), key=lambda p: p.split("/")):
        if os.path.splitext(file)[1].lower() in IMAGE_EXTENSIONS:
            photos.add(prefix + file[len(base) :], source, file)


class PredictBatch:
    """A Ray Data actor: loads the predictor once, then turns batches of ``{"path", "source", "location"}``
    (see :class:`Photos`) into result rows."""

    def __init__(self, model: str | None, flip: bool, filesystems: list):
        from ..inference.predictor import Predictor

        self.predictor = Predictor(model, flip=flip, num_threads=1)
        self.filesystems = filesystems
        self.fetcher = ThreadPoolExecutor(FETCH_THREADS) if filesystems else None

    def __call__(self, batch: dict[str, np.ndarray]):
        rows = []
        for path, data in zip(batch["path"], self._fetched(batch)):
            if isinstance(data, Exception):
                result = PhotoResult(str(path), error=f"{path} could not be read ({type(data).__name__}: {data})")
            else:
                result = predict_photo(self.predictor, str(path), data)
            rows += face_rows(result)
        return rows_table(rows)

    def _fetched(self, batch: dict[str, np.ndarray]) -> Iterator[bytes | Exception | None]:
        """Each photo's bytes (fetched on threads, all at once), or None for a local file, or the error."""
        fetching: list[Future | None] = [
            None if source < 0 else self.fetcher.submit(_read, self.filesystems[source], str(location))  # type: ignore[union-attr]
            for source, location in zip(batch["source"], batch["location"])
        ]
        for future in fetching:
            try:
                yield None if future is None else future.result()
            except OSError as error:
                yield error


def _read(filesystem, location: str) -> bytes:
    with filesystem.open_input_stream(location) as stream:
        return stream.read()


def predict_on_ray(
    paths: Sequence[str],
    out: str,
    actors: int,
    model: str | None = None,
    flip: bool = False,
    address: str | None = None,
    report: Callable[[str], None] | None = None,
    list_file: str | None = None,
    resume: bool = False,
    progress: bool = False,
) -> RunSummary:
    """Predict every photo of ``paths`` on Ray into the Parquet folder ``out`` (a local folder or a URI);
    local files that do not exist are rows with their error. Joins the cluster at ``address`` unless Ray
    is running here.

    ``resume``: skip the photos ``out`` already holds (see :func:`done_paths`) and add the rest; otherwise
    ``out`` is emptied first. ``progress``: photos done of all, per second and the time left, on stderr
    (Ray Data's own progress bars are turned off). Each photo that fails is named through ``report``.
    """
    from ..errors import FaceAgeError

    try:
        import ray
        import ray.data
    except ImportError:
        raise FaceAgeError("--engine ray needs Ray (pip install 'faceage[scale]')") from None

    photos = list_photos(paths, list_file)
    if not (photos.paths or photos.missing):
        raise FaceAgeError(f"no image files found in {', '.join([*paths, *filter(None, [list_file])])}")
    done = done_paths(out) if resume else set()
    todo = photos.without(done)
    summary = RunSummary(skipped=len(done))
    bar = _progress_bar(len(todo.paths) + len(todo.missing)) if progress else None
    report = report or (bar.write if bar else to_stderr)
    writer = PartWriter(out, append=resume)
    try:
        tables: Iterable = [rows_table([row for r in todo.missing for row in face_rows(r)])] if todo.missing else []
        if todo.paths:
            if not ray.is_initialized():
                options: dict[str, Any] = (
                    {} if address or os.environ.get("RAY_ADDRESS") else {"include_dashboard": False}
                )
                ray.init(address=address, log_to_driver=False, **options)
            ray.data.DataContext.get_current().enable_progress_bars = False
            dataset = _dataset(todo, model, flip, actors)
            tables = chain(tables, dataset.iter_batches(batch_size=None, batch_format="pyarrow"))
        for table in tables:
            writer.write(table)
            photos_in, failed = _count(table)
            summary.written += photos_in
            for result in failed:
                summary.failed += 1
                report(failure_line(result))
            if bar:
                bar.update(photos_in)
    finally:
        writer.close()
        if bar:
            bar.close()
    return summary


def _count(table) -> tuple[int, list[PhotoResult]]:
    """The photos in a table of result rows (a photo's rows are together in one), and those that failed."""
    import pyarrow.compute as pc

    face = table.column("face")
    photos = pc.sum(pc.or_kleene(pc.is_null(face), pc.equal(face, 1))).as_py() or 0
    failed = table.filter(pc.is_valid(table.column("error"))).select(["path", "error"]).to_pylist()
    return photos, [PhotoResult(row["path"], error=row["error"]) for row in failed]


def _progress_bar(total: int):
    from tqdm import tqdm

    return tqdm(total=total, desc="predict", unit="photo", file=sys.stderr, smoothing=0.1)


class PartWriter:
    """Result tables as Parquet files ``part-RUN-NNNNNN.parquet`` of about :data:`ROWS_PER_FILE` rows in the
    folder ``out``, each written under a hidden name and then moved into place (so one that is there is whole).
    Not ``append``: what ``out`` held is removed first."""

    def __init__(self, out: str, append: bool):
        from pyarrow import fs

        self.filesystem, self.folder = _filesystem(out)
        if not append and self.filesystem.get_file_info(self.folder).type == fs.FileType.Directory:
            self.filesystem.delete_dir_contents(self.folder)
        self.filesystem.create_dir(self.folder, recursive=True)
        self.run, self.number = uuid.uuid4().hex[:12], 0
        self.tables: list = []
        self.rows = 0

    def write(self, table) -> None:
        self.tables.append(table)
        self.rows += table.num_rows
        if self.rows >= ROWS_PER_FILE:
            self.flush()

    def flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.rows:
            name = f"{self.folder.rstrip('/')}/part-{self.run}-{self.number:06d}"
            temporary = _hidden(f"{name}.tmp")
            pq.write_table(pa.concat_tables(self.tables), temporary, filesystem=self.filesystem)
            self.filesystem.move(temporary, f"{name}.parquet")
            self.number += 1
        self.tables, self.rows = [], 0

    def close(self) -> None:
        """Write what is left (also after an interruption: every table holds whole photos)."""
        self.flush()


def _hidden(path: str) -> str:
    """``path`` with a ``.`` before its file name (readers of a Parquet folder skip such files)."""
    folder, _, name = path.rpartition("/")
    return f"{folder}/.{name}"


def _dataset(photos: Photos, model: str | None, flip: bool, actors: int):
    """The photos' paths in blocks (a batch each, at least one per actor), predicted in batches on ``actors``
    actors of one CPU each."""
    import ray.data

    count = len(photos.paths)
    blocks = min(MAX_BLOCKS, max(math.ceil(count / BATCH_SIZE), min(actors, count)))
    return ray.data.from_items(photos.items(), override_num_blocks=blocks).map_batches(
        PredictBatch,
        fn_constructor_args=(model, flip, photos.filesystems),
        batch_size=BATCH_SIZE,
        num_cpus=1,
        compute=ray.data.ActorPoolStrategy(size=min(actors, blocks)),  # no actor without a block
        batch_format="numpy",
    )


def _filesystem(out: str):
    """The pyarrow filesystem of ``out`` and the folder's place on it (a local path: the local filesystem)."""
    from pyarrow import fs

    if "://" in out:
        return fs.FileSystem.from_uri(out)
    return fs.LocalFileSystem(), os.path.abspath(out)


def _parquet_files(out: str, suffix: str = ".parquet") -> tuple[Any, list[str]]:
    """The filesystem of ``out`` and its files ending in ``suffix`` (none if it does not exist)."""
    from pyarrow import fs

    filesystem, location = _filesystem(out)
    if filesystem.get_file_info(location).type != fs.FileType.Directory:
        return filesystem, []
    found = filesystem.get_file_info(fs.FileSelector(location, recursive=True))
    return filesystem, sorted(f.path for f in found if f.type == fs.FileType.File and f.path.endswith(suffix))


def done_paths(out: str) -> set[str]:
    """The paths of the photos the Parquet folder ``out`` holds. A file that cannot be read (cut off by an
    interruption while it was written: a Parquet file's index is written last) is removed."""
    import pyarrow.parquet as pq

    filesystem, files = _parquet_files(out)
    for temporary in _parquet_files(out, ".tmp")[1]:  # a file being written when the run stopped
        filesystem.delete_file(temporary)
    done: set[str] = set()
    for file in files:
        try:
            done.update(pq.read_table(file, columns=["path"], filesystem=filesystem).column("path").to_pylist())
        except (OSError, ValueError):  # pyarrow's ArrowInvalid is a ValueError
            filesystem.delete_file(file)
    return done
