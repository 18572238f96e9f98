"""The trained model on LiteRT: face crops in, age, calibrated age range and gender out.

No TensorFlow here: this is the inference half, shared by the predictor, the CLI, the app
and evaluation, so the figures measured are those of the file that ships.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import AGE_OF_MAJORITY, MAX_AGE
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
    p_under_18: np.ndarray


def age_from_distribution(probs: np.ndarray, mass: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expected age and the central ``mass`` interval of each row's distribution over ages."""
    ages = np.arange(probs.shape[1], dtype=np.float64)
    probs = probs / probs.sum(axis=1, keepdims=True)
    expected = probs @ ages
    cdf = np.cumsum(probs, axis=1)
    low = np.argmax(cdf >= (1 - mass) / 2, axis=1).astype(np.float64)
    high = np.argmax(cdf >= (1 + mass) / 2 - 1e-9, axis=1).astype(np.float64)
    return expected, np.minimum(low, expected), np.maximum(high, expected)


def mass_below(probs: np.ndarray, age: int = AGE_OF_MAJORITY) -> np.ndarray:
    """Each row's probability of an age under ``age`` (the distribution's mass on 0..age-1)."""
    return probs[:, :age].sum(axis=1) / probs.sum(axis=1)


@dataclass(frozen=True)
class UnderAgeCalibration:
    """Maps the age distribution's mass below 18 to a calibrated probability of being under 18:
    ``sigmoid(slope * logit(mass) + offset)``, the two numbers fitted on val (Platt scaling; see
    :func:`faceage_lib.training.calibration.calibrate_under_18`). The identity (1, 0) for a model
    exported before faceage 0.4, which has none in its manifest."""

    slope: float = 1.0
    offset: float = 0.0

    @classmethod
    def from_manifest(cls, manifest: dict) -> UnderAgeCalibration:
        entry = manifest.get("p_under_18")
        return cls(float(entry["slope"]), float(entry["offset"])) if entry else cls()

    def __call__(self, mass: np.ndarray) -> np.ndarray:
        return np.exp(-np.logaddexp(0.0, -(self.slope * logit(mass) + self.offset)))  # a sigmoid that never overflows


def logit(p: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """``log(p / (1 - p))``, with ``p`` kept ``eps`` away from 0 and 1."""
    p = np.clip(np.asarray(p, np.float64), eps, 1 - eps)
    return np.log(p / (1 - p))


def reliability_table(p: np.ndarray, outcome: np.ndarray, bins: int = 10) -> list[dict]:
    """Per probability bin (tenths): the faces in it, their mean probability and the share for which
    the outcome is true; bins without faces are left out."""
    p, outcome = np.asarray(p, np.float64), np.asarray(outcome, bool)
    index = np.minimum((p * bins).astype(int), bins - 1)
    return [
        {
            "bin": f"{b / bins:.1f}-{(b + 1) / bins:.1f}",
            "faces": int((index == b).sum()),
            "mean_p": round(float(p[index == b].mean()), 3),
            "share_true": round(float(outcome[index == b].mean()), 3),
        }
        for b in range(bins)
        if (index == b).any()
    ]


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
        self.under_18 = UnderAgeCalibration.from_manifest(manifest)
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
            return Estimates(*(np.zeros(0) for _ in range(5)))
        outputs = np.concatenate([self._run(crops[i : i + BATCH], flip) for i in range(0, len(crops), BATCH)])
        probs = outputs[:, :-1].astype(np.float64)
        age, low, high = age_from_distribution(probs, self.interval_mass)
        return Estimates(age, low, high, outputs[:, -1].astype(np.float64), self.under_18(mass_below(probs)))

    def _run(self, batch: np.ndarray, flip: bool) -> np.ndarray:
        if not flip:
            return next(iter(self._model.run(batch.astype(np.float32)).values()))
        both = np.concatenate([batch, batch[:, :, ::-1]]).astype(np.float32)
        out = next(iter(self._model.run(both).values()))
        return (out[: len(batch)] + out[len(batch) :]) / 2
