"""What a run reads: files, folders (searched recursively), globs and list files, in a stable order.

Everything is a generator, so a folder of a million photos is never held as one list.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Iterator
from itertools import chain
from pathlib import Path

GLOB_CHARACTERS = frozenset("*?[")


def image_files(paths: Iterable[str | os.PathLike]) -> Iterator[Path]:
    """The given files, plus image files found recursively in the given folders, in order.

    A name with ``*``, ``?`` or ``[`` that is not an existing file is a glob (``**`` crosses
    folders). A missing file is yielded as it is: its result says "no such file".
    """
    for name in paths:
        path = Path(name)
        if path.is_dir():
            yield from _walk(path)
        elif not path.exists() and GLOB_CHARACTERS & set(str(name)):
            for match in sorted(glob.iglob(str(name), recursive=True)):
                yield from _walk(Path(match)) if Path(match).is_dir() else [Path(match)]
        else:
            yield path


def corpus_files(paths: Iterable[str], list_file: str | os.PathLike | None = None) -> Iterator[Path]:
    """:func:`image_files` of ``paths`` and then of the lines of ``list_file`` (read as they are needed)."""
    return image_files(chain(paths, list_file_paths(list_file) if list_file else ()))


def list_file_paths(list_file: str | os.PathLike) -> Iterator[str]:
    """The paths in a list file, one a line; blank lines and lines starting with ``#`` are skipped.

    Relative paths are taken from the current folder, as on the command line.
    """
    with open(list_file, encoding="utf-8") as lines:
        for line in lines:
            line = line.rstrip("\r\n")
            if line.strip() and not line.lstrip().startswith("#"):
                yield line


def _walk(folder: Path) -> Iterator[Path]:
    """Image files under ``folder``, sorted by path (entries by name, each folder at its place)."""
    from ..inference.images import IMAGE_EXTENSIONS

    with os.scandir(folder) as scan:
        entries = sorted(scan, key=lambda entry: entry.name)
    for entry in entries:
        if entry.is_dir():
            yield from _walk(Path(entry.path))
        elif entry.is_file() and Path(entry.name).suffix.lower() in IMAGE_EXTENSIONS:
            yield Path(entry.path)
