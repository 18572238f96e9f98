"""N worker processes, each with its own :class:`Predictor` (LiteRT on one thread), results in input order.

Photos go out in chunks, with a bounded number of chunks in flight, so memory does not grow with the
number of photos; results come back in the order the photos went in. One worker runs in this process.
"""

from __future__ import annotations

import signal
from collections import deque
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TYPE_CHECKING

from .photos import PhotoResult, predict_photo

if TYPE_CHECKING:
    from concurrent.futures import Future

#: Photos per task sent to a worker, and tasks in flight per worker.
CHUNK, IN_FLIGHT = 8, 4

_predictor = None  # each worker process's own


def predictions(
    paths: Iterable[str], workers: int, model: str | None = None, flip: bool = False
) -> Iterator[PhotoResult]:
    """One :class:`PhotoResult` per path, in order, from ``workers`` processes."""
    if workers <= 1:
        _load(model, flip, in_worker=False)
        yield from _predict_chunk(paths)
        return
    from concurrent.futures import ProcessPoolExecutor  # here: one photo in this process imports no pool
    from concurrent.futures.process import BrokenProcessPool
    from multiprocessing import get_context

    from ..errors import FaceAgeError
    from ..inference.modelfiles import verified_model

    verified_model(model)  # a bad model folder fails here, with its message, not in every worker
    chunks = _chunks(paths, CHUNK)
    with ProcessPoolExecutor(
        workers, mp_context=get_context("spawn"), initializer=_load, initargs=(model, flip)
    ) as pool:
        first = islice(chunks, workers * IN_FLIGHT)
        pending: deque[Future] = deque(pool.submit(_predict_list, chunk) for chunk in first)
        try:
            while pending:
                results = pending.popleft().result()
                chunk = next(chunks, None)
                if chunk:
                    pending.append(pool.submit(_predict_list, chunk))
                yield from results
        except BrokenProcessPool:
            raise FaceAgeError("a worker process stopped (out of memory?); rerun with --resume to go on") from None
        finally:
            for future in pending:
                future.cancel()


def _chunks(paths: Iterable[str], size: int) -> Iterator[list[str]]:
    paths = iter(paths)
    while chunk := list(islice(paths, size)):
        yield chunk


def _load(model: str | None, flip: bool, in_worker: bool = True) -> None:
    """Load this process's predictor; a worker leaves Ctrl-C to the main process."""
    global _predictor
    from ..inference.predictor import Predictor

    if in_worker:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    _predictor = Predictor(model, flip=flip, num_threads=1)


def _predict_chunk(paths: Iterable[str]) -> Iterator[PhotoResult]:
    for path in paths:
        yield predict_photo(_predictor, str(path))


def _predict_list(paths: list[str]) -> list[PhotoResult]:
    return list(_predict_chunk(paths))
