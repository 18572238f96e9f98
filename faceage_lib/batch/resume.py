"""Resuming an interrupted run: which photos the output already holds, after cutting off a partial end.

A killed process, Ctrl-C or a full disk can leave half a line (or, in CSV, some of a photo's face
rows). :func:`done_paths` cuts the output back to its last complete photo, so the rerun redoes only
what was not finished and no photo appears twice.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import FaceAgeError
from .formats import CSV_FIELDS, csv_path, partial_folder


def done_paths(fmt: str, out: str | os.PathLike) -> set[str]:
    """The paths of the photos ``out`` holds, completely; the output is cut back to exactly those."""
    if fmt == "parquet":
        return _parquet_paths(Path(out))
    if fmt == "json":
        raise FaceAgeError("--resume needs --format jsonl, csv or parquet (a JSON array cannot be appended to)")
    path = Path(out)
    if not path.is_file():
        return set()
    with path.open("r+b") as handle:
        end, paths = (_jsonl_end if fmt == "jsonl" else _csv_end)(handle)
        handle.truncate(end)
    return paths


def _lines(handle) -> Iterator[tuple[int, str]]:
    """(offset after the line, line) of each complete line of a binary file; a partial last line is left out."""
    offset = 0
    for raw in handle:
        if not raw.endswith(b"\n"):
            return
        offset += len(raw)
        yield offset, raw.decode("utf-8", errors="replace")


def _jsonl_end(handle) -> tuple[int, set[str]]:
    end, paths = 0, set()
    for offset, line in _lines(handle):
        try:
            paths.add(json.loads(line)["path"])
        except (ValueError, KeyError, TypeError):  # a damaged line: redo from there
            break
        end = offset
    return end, paths


def _csv_end(handle) -> tuple[int, set[str]]:
    """Complete CSV records, less the last photo's rows (its last face rows may be missing)."""
    lines = _lines(handle)
    consumed = [0]

    def text() -> Iterator[str]:
        for offset, line in lines:
            consumed[0] = offset
            yield line

    reader = csv.reader(text())
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        return 0, set()
    if tuple(header) != CSV_FIELDS:
        raise FaceAgeError("--resume: the output file is not a faceage CSV (its header differs)")
    paths, last, last_start, start = set(), None, consumed[0], consumed[0]
    try:
        for row in reader:
            path = csv_path(row[0]) if row else ""
            if path != last:
                if last is not None:
                    paths.add(last)
                last, last_start = path, start
            start = consumed[0]
    except csv.Error:  # a quoted field cut short
        pass
    return last_start, paths


def _parquet_paths(out: Path) -> set[str]:
    """Paths in the part files of an unfinished run (a finished ``out`` becomes its first part)."""
    import pyarrow.parquet as pq

    parts = partial_folder(out)
    if not parts.is_dir():
        if not out.is_file():
            return set()
        parts.mkdir()
        os.replace(out, parts / "part-000000.parquet")
    for temporary in parts.glob(".part-*.tmp"):  # a part being written when the run stopped
        temporary.unlink()
    return {
        path
        for part in sorted(parts.glob("part-*.parquet"))
        for path in pq.read_table(part, columns=["path"]).column("path").to_pylist()
    }
