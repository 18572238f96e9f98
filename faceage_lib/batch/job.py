"""``faceage predict`` on one machine: inputs -> worker pool -> a streaming writer, resumable, with progress."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import FaceAgeError
from .formats import open_writer
from .inputs import corpus_files
from .photos import PhotoResult, with_age_checks
from .pool import predictions


@dataclass
class RunSummary:
    """What a run did: photos written, photos already in the output (``resume``), photos that failed."""

    written: int = 0
    skipped: int = 0
    failed: int = 0


def failure_line(result: PhotoResult) -> str:
    """The stderr line naming a photo that could not be read."""
    error = result.error or ""
    where = "" if result.path in error else f"{result.path}: "
    return f"faceage: {where}{error}"


def to_stderr(line: str) -> None:
    print(line, file=sys.stderr)


def predict_corpus(
    paths: Sequence[str],
    fmt: str,
    out: str | None = None,
    workers: int = 1,
    model: str | None = None,
    flip: bool = False,
    resume: bool = False,
    progress: bool = False,
    report: Callable[[str], None] | None = None,
    list_file: str | None = None,
    challenge_age: float | None = None,
) -> RunSummary:
    """Predict every photo of ``paths`` and ``list_file`` (see :func:`corpus_files`) into ``out`` as ``fmt``,
    as results arrive.

    ``resume``: skip the photos ``out`` already holds (after cutting off a partial end) and append.
    Each photo that fails is written with its error and named through ``report`` (default: stderr).
    ``challenge_age``: give each face a ``check``, ``"challenge"`` under that estimated age, else ``"pass"``.
    """
    from .resume import done_paths

    done = done_paths(fmt, out) if resume and out else set()
    total = sum(str(path) not in done for path in corpus_files(paths, list_file))
    if not total and not done:
        raise FaceAgeError(f"no image files found in {', '.join([*map(str, paths), *filter(None, [list_file])])}")
    summary = RunSummary(skipped=len(done))
    todo = (str(path) for path in corpus_files(paths, list_file) if str(path) not in done)
    bar = _progress_bar(total) if progress else None
    report = report or (bar.write if bar else to_stderr)
    writer = open_writer(fmt, out, append=resume)
    finished = False
    try:
        for result in predictions(todo, min(workers, total), model, flip):
            writer.write(with_age_checks(result, challenge_age))
            summary.written += 1
            if result.error:
                summary.failed += 1
                report(failure_line(result))
            if bar:
                bar.update()
        finished = True
    finally:
        writer.close(finished)
        if bar:
            bar.close()
    return summary


def _progress_bar(total: int):
    """Photos done of ``total``, photos per second and the time left, on stderr."""
    from tqdm import tqdm

    return tqdm(total=total, desc="predict", unit="photo", file=sys.stderr, smoothing=0.1)
