"""Run ``.tflite`` models on LiteRT (``ai-edge-litert``), falling back to TensorFlow's interpreter."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from ..errors import ModelFileError

_STDERR_LOCK = threading.Lock()


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # e.g. a platform without LiteRT wheels: TensorFlow carries the same runtime
        from tensorflow.lite import Interpreter  # type: ignore[no-redef]
    return Interpreter


class TFLiteModel:
    """One ``.tflite`` model with a single input; ``run(x)`` returns all outputs by name.

    Calls are serialised with a lock, so one instance can be shared between threads.
    """

    def __init__(self, model: str | os.PathLike | bytes, num_threads: int | None = None, name: str | None = None):
        """``name``: how errors call the model (default: its path). A model LiteRT cannot load
        raises :class:`ModelFileError`."""
        self._interpreter = _load(model, num_threads or min(4, os.cpu_count() or 1), name or str(model))
        self._input = self._interpreter.get_input_details()[0]
        self._outputs = self._interpreter.get_output_details()
        self._batch = int(self._input["shape"][0])
        self._lock = threading.Lock()

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self._input["shape"])

    @property
    def output_shapes(self) -> list[tuple[int, ...]]:
        return [tuple(int(d) for d in output["shape"]) for output in self._outputs]

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Run on a batch (any batch size); returns ``{output name: array}``."""
        batch = np.ascontiguousarray(batch, dtype=self._input["dtype"])
        with self._lock:
            if batch.shape[0] != self._batch:
                self._interpreter.resize_tensor_input(self._input["index"], batch.shape, strict=False)
                self._interpreter.allocate_tensors()
                self._batch = batch.shape[0]
            self._interpreter.set_tensor(self._input["index"], batch)
            self._interpreter.invoke()
            return {o["name"]: self._interpreter.get_tensor(o["index"]).copy() for o in self._outputs}


def _load(model: str | os.PathLike | bytes, threads: int, name: str):
    """A LiteRT interpreter with its tensors allocated; the native library's banner is not printed."""
    Interpreter = _interpreter_class()
    source = {"model_content": bytes(model)} if isinstance(model, (bytes, bytearray)) else {"model_path": str(model)}
    try:
        with native_stderr_silenced():
            interpreter = Interpreter(**source, num_threads=threads)
            interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise ModelFileError(
            f"{name} is not a model LiteRT can load ({exc}); reinstall faceage or re-export the model"
        ) from None
    return interpreter


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null meanwhile: LiteRT's native code writes "INFO: Created
    TensorFlow Lite XNNPACK delegate for CPU." there, past Python's ``sys.stderr``."""
    with _STDERR_LOCK:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            with open(os.devnull, "wb") as null:
                os.dup2(null.fileno(), 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
