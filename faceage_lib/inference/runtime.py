"""Run ``.tflite`` models on LiteRT (``ai-edge-litert``), falling back to TensorFlow's interpreter."""

from __future__ import annotations

import os
import threading

import numpy as np


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

    def __init__(self, model: str | os.PathLike | bytes, num_threads: int | None = None):
        Interpreter = _interpreter_class()
        threads = num_threads or min(4, os.cpu_count() or 1)
        if isinstance(model, (bytes, bytearray)):
            self._interpreter = Interpreter(model_content=bytes(model), num_threads=threads)
        else:
            self._interpreter = Interpreter(model_path=str(model), num_threads=threads)
        self._interpreter.allocate_tensors()
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
