"""The trained model on LiteRT: face crops in, age, calibrated age range and gender out.

No TensorFlow here: this is the inference half, shared by the predictor, the CLI, the app
and evaluation, so the figures measured are those of the file that ships.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import MAX_AGE
from ..errors import ModelFileError
from .modelfiles import MEASURED, crop_spec, verified_model
from .runtime import TFLiteModel

BATCH = 256


@dataclass
class Estimates:
    """Per-crop predictions; every field is an array of length N."""

    age: np.ndarray
    age_low: np.ndarray
    age_high: np.ndarray
    p_female: np.ndarray


def age_from_distribution(probs: np.ndarray, mass: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expected age and the central ``mass`` interval of each row's distribution over ages."""
    ages = np.arange(probs.shape[1], dtype=np.float64)
    probs = probs / probs.sum(axis=1, keepdims=True)
    expected = probs @ ages
    cdf = np.cumsum(probs, axis=1)
    low = np.argmax(cdf >= (1 - mass) / 2, axis=1).astype(np.float64)
    high = np.argmax(cdf >= (1 + mass) / 2 - 1e-9, axis=1).astype(np.float64)
    return expected, np.minimum(low, expected), np.maximum(high, expected)


class AgeGenderEstimator:
    """Loads a model folder (checksums verified) and estimates age and gender from crops."""

    def __init__(self, model_dir: str | os.PathLike | None = None, num_threads: int | None = None):
        path, manifest = verified_model(model_dir)
        self.folder = path.parent
        self.manifest = manifest
        self.crop = crop_spec(manifest)  # the crop the model was trained on
        self.img_size = self.crop.size
        self.interval_mass = float(manifest["interval_mass"])
        self.gender_min_confidence = float(manifest["gender_min_confidence"])
        self._model = TFLiteModel(path, num_threads)
        expected_in, expected_out = (self.img_size, self.img_size, 3), [(MAX_AGE + 2,)]
        found_in, found_out = self._model.input_shape[1:], [shape[1:] for shape in self._model.output_shapes]
        if found_in != expected_in or found_out != expected_out:
            raise ModelFileError(
                f"{path} takes {found_in} and gives {found_out}, but its manifest says "
                f"{expected_in} and {expected_out}: the model and its manifest do not match"
            )

    def measured_file(self) -> Path | None:
        """The model's measured figures (``measured.json``), checked against the manifest; ``None``
        if the manifest lists none."""
        return verified_model(self.folder, MEASURED)[0] if MEASURED in self.manifest["files"] else None

    def predict(self, crops: np.ndarray, flip: bool = False) -> Estimates:
        """``crops``: (N, size, size, 3) uint8 from :func:`faceage_lib.inference.crop.crop_face`.

        ``flip`` averages the predictions of each crop and its mirror image (test-time augmentation).
        """
        crops = np.asarray(crops)
        if crops.ndim != 4 or crops.shape[1:] != (self.img_size, self.img_size, 3):
            raise ValueError(f"crops must be (N, {self.img_size}, {self.img_size}, 3), not {crops.shape}")
        if not len(crops):
            return Estimates(*(np.zeros(0) for _ in range(4)))
        outputs = np.concatenate([self._run(crops[i : i + BATCH], flip) for i in range(0, len(crops), BATCH)])
        age, low, high = age_from_distribution(outputs[:, :-1].astype(np.float64), self.interval_mass)
        return Estimates(age, low, high, outputs[:, -1].astype(np.float64))

    def _run(self, batch: np.ndarray, flip: bool) -> np.ndarray:
        if not flip:
            return next(iter(self._model.run(batch.astype(np.float32)).values()))
        both = np.concatenate([batch, batch[:, :, ::-1]]).astype(np.float32)
        out = next(iter(self._model.run(both).values()))
        return (out[: len(batch)] + out[len(batch) :]) / 2
