"""The output formats of ``faceage predict``, each written as results arrive.

* ``json``: one array of ``{"path", "faces", "error"}`` objects (streamed, but not resumable);
* ``jsonl``: the same objects, one a line;
* ``csv``: one row per face, and one row with empty face fields for a photo without a face or with an error;
* ``parquet``: the CSV's rows plus the photo's ``width`` and ``height`` (:data:`PARQUET_COLUMNS`), the schema
  the Ray engine writes too. Rows go to part files in ``OUT.partial/`` as they arrive, each renamed into place
  when complete, and are joined into ``OUT`` at the end (so an interrupted run keeps what it wrote).
"""

from __future__ import annotations

import csv
import json
import os
import sys
import textwrap
from pathlib import Path
from typing import IO

from .photos import PhotoResult

FORMATS = ("json", "jsonl", "csv", "parquet")
#: A spreadsheet reads a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FACE_FIELDS = ("score", "age", "age_low", "age_high", "gender", "gender_prob", "p_female", "p_under_18", "check")
CSV_FIELDS = ("path", "face", "x1", "y1", "x2", "y2", *FACE_FIELDS, "error")
PARQUET_COLUMNS = ("path", "width", "height", *CSV_FIELDS[1:])
#: Photos per Parquet part file (the rows waiting to be written are at most these photos' faces).
PHOTOS_PER_PART = 1000


def csv_cell(value):
    """``value``, with a ``'`` before text that a spreadsheet would read as a formula."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def csv_path(cell: str) -> str:
    """The path a CSV ``path`` cell holds (the inverse of :func:`csv_cell`)."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS) else cell


def face_rows(result: PhotoResult) -> list[dict]:
    """One row per face (:data:`PARQUET_COLUMNS`), or one row with no face fields for a photo without any."""
    photo = {"path": result.path, "width": result.width, "height": result.height, "error": result.error}
    if not result.faces:
        return [photo]
    return [
        {
            **photo,
            "face": face["face"],
            **dict(zip(("x1", "y1", "x2", "y2"), face["box"])),
            **{key: face.get(key) for key in FACE_FIELDS},  # "check" only with --challenge-age
        }
        for face in result.faces
    ]


def parquet_schema():
    """The Arrow schema of :data:`PARQUET_COLUMNS` (one definition for both engines)."""
    try:
        import pyarrow as pa
    except ImportError:
        from ..errors import FaceAgeError

        raise FaceAgeError("--format parquet needs pyarrow (pip install 'faceage[scale]')") from None

    kinds = {
        "path": pa.string(),
        "gender": pa.string(),
        "check": pa.string(),
        "error": pa.string(),
        **{name: pa.int32() for name in ("width", "height", "face", "x1", "y1", "x2", "y2")},
    }
    return pa.schema([(name, kinds.get(name, pa.float64())) for name in PARQUET_COLUMNS])


def rows_table(rows: list[dict]):
    """The rows as an Arrow table of :func:`parquet_schema` (missing fields are null)."""
    import pyarrow as pa

    schema = parquet_schema()
    return pa.Table.from_pylist([{name: row.get(name) for name in schema.names} for row in rows], schema=schema)


# --------------------------------------------------------------------------- writers


class Writer:
    """Writes results as they arrive; :meth:`close` with ``finished=False`` keeps what is written."""

    def write(self, result: PhotoResult) -> None:
        raise NotImplementedError

    def close(self, finished: bool = True) -> None:
        raise NotImplementedError


class TextWriter(Writer):
    """A text format, to a file (appended to when resuming) or standard output, flushed per photo."""

    def __init__(self, out: str | None, append: bool):
        self.stream: IO[str] = (
            sys.stdout if not out else open(out, "a" if append else "w", newline="", encoding="utf-8")
        )  # noqa: SIM115 - closed by close()
        self.started = append and self.stream.tell() > 0

    def write(self, result: PhotoResult) -> None:
        self.stream.write(self.text(result))
        self.stream.flush()
        self.started = True

    def text(self, result: PhotoResult) -> str:
        raise NotImplementedError

    def close(self, finished: bool = True) -> None:
        if self.stream is not sys.stdout:
            self.stream.close()


class JsonWriter(TextWriter):
    def text(self, result: PhotoResult) -> str:
        return ("," if self.started else "[") + "\n" + textwrap.indent(json.dumps(result.to_dict(), indent=2), "  ")

    def close(self, finished: bool = True) -> None:
        self.stream.write("\n]\n" if self.started else "[]\n")
        super().close(finished)


class JsonlWriter(TextWriter):
    def text(self, result: PhotoResult) -> str:
        return json.dumps(result.to_dict()) + "\n"


class CsvWriter(TextWriter):
    """Text that a spreadsheet would run as a formula (a file named ``=HYPERLINK(...).jpg``) gets a leading ``'``."""

    def __init__(self, out: str | None, append: bool):
        super().__init__(out, append)
        self.lines = _Lines()
        self.rows = csv.DictWriter(self.lines, fieldnames=CSV_FIELDS, extrasaction="ignore")
        if not self.started:
            self.rows.writeheader()

    def text(self, result: PhotoResult) -> str:
        self.rows.writerows({key: csv_cell(value) for key, value in row.items()} for row in face_rows(result))
        return self.lines.take()


class _Lines:
    """A string buffer that ``csv`` writes to and the writer empties per photo."""

    def __init__(self):
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)

    def take(self) -> str:
        text, self.parts = "".join(self.parts), []
        return text


class ParquetWriter(Writer):
    """Part files in ``OUT.partial/`` as results arrive, joined into ``OUT`` when the run finishes."""

    def __init__(self, out: str, append: bool):
        parquet_schema()  # pyarrow is installed
        self.out, self.parts = Path(out), partial_folder(out)
        if not append:
            _remove_parts(self.parts)
        self.parts.mkdir(exist_ok=True)
        self.rows: list[dict] = []
        self.photos = 0

    def write(self, result: PhotoResult) -> None:
        self.rows += face_rows(result)
        self.photos += 1
        if self.photos >= PHOTOS_PER_PART:
            self._flush()

    def _flush(self) -> None:
        import pyarrow.parquet as pq

        if self.rows:
            number = len(list(self.parts.glob("part-*.parquet")))
            temporary = self.parts / f".part-{number:06d}.tmp"
            pq.write_table(rows_table(self.rows), temporary)
            os.replace(temporary, self.parts / f"part-{number:06d}.parquet")
        self.rows, self.photos = [], 0

    def close(self, finished: bool = True) -> None:
        self._flush()
        if finished:
            join_parts(self.parts, self.out)


def partial_folder(out: str | os.PathLike) -> Path:
    """Where a Parquet run keeps its part files until it finishes."""
    return Path(f"{out}.partial")


def join_parts(parts: Path, out: Path) -> None:
    """Write every part, in order, as row groups of one file ``out``; then remove the parts."""
    import pyarrow.parquet as pq

    temporary = out.with_name(f".{out.name}.tmp")
    with pq.ParquetWriter(temporary, parquet_schema()) as writer:
        for part in sorted(parts.glob("part-*.parquet")):
            writer.write_table(pq.read_table(part))
    os.replace(temporary, out)
    _remove_parts(parts)


def _remove_parts(parts: Path) -> None:
    if parts.is_dir():
        for file in parts.iterdir():
            file.unlink()
        parts.rmdir()


def open_writer(fmt: str, out: str | None, append: bool = False) -> Writer:
    """A writer of ``fmt`` to ``out`` (standard output when None; Parquet needs a file)."""
    if fmt == "parquet":
        if out is None:
            raise ValueError("Parquet is written to a file: give one")
        return ParquetWriter(out, append)
    return {"json": JsonWriter, "jsonl": JsonlWriter, "csv": CsvWriter}[fmt](out, append)
