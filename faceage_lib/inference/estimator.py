"""The trained model on LiteRT: face crops in, age, calibrated age range and gender out.

No TensorFlow here: this is the inference half, shared by the predictor, the CLI, the app
and evaluation, so the figures measured are those of the file that ships.

A model folder's members (see :mod:`.modelfiles`: e.g. dlib's gender network on its own aligned
crops) are loaded on first use, checksums verified. They run only on crops of their own
:class:`~.crop.CropSpec` (:attr:`AgeGenderEstimator.crops` lists every spec the folder needs):
:meth:`AgeGenderEstimator.predict` given a ``{spec: crops}`` mapping blends each member whose crops
it holds; given the main model's crops alone (an array: the API of models without members, and of
callers that hold only those crops) it runs the main model alone, its p_female unblended. The
:class:`~.predictor.Predictor` always cuts every spec, so its results always include the members.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import AGE_OF_MAJORITY, MAX_AGE
from ..errors import ModelFileError
from .crop import CropSpec
from .modelfiles import MEASURED, MemberSpec, crop_spec, member_specs, verified_file, verified_model
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


def median_age(probs: np.ndarray) -> np.ndarray:
    """Each row's age estimate: its distribution's median, each age's mass spread evenly over that
    year (from age - 0.5 to age + 0.5). The median is the estimate with the smallest expected absolute
    error; on val it errs less than the mean, most where the distribution is skewed, at the ends of
    the age scale (model card, "The age estimate: the median")."""
    probs = probs / probs.sum(axis=1, keepdims=True)
    return _median(probs, np.cumsum(probs, axis=1))


def age_from_distribution(probs: np.ndarray, mass: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's :func:`median_age` and the central ``mass`` interval of its distribution over ages."""
    probs = probs / probs.sum(axis=1, keepdims=True)
    cdf = np.cumsum(probs, axis=1)
    age = _median(probs, cdf)
    low = np.argmax(cdf >= (1 - mass) / 2, axis=1).astype(np.float64)
    high = np.argmax(cdf >= (1 + mass) / 2 - 1e-9, axis=1).astype(np.float64)
    return age, np.minimum(low, age), np.maximum(high, age)


def _median(probs: np.ndarray, cdf: np.ndarray) -> np.ndarray:
    """The median of normalised ``probs`` (with ``cdf`` their cumulative sums), as :func:`median_age`."""
    rows = np.arange(len(probs))
    year = np.argmax(cdf >= 0.5, axis=1)
    below = np.where(year > 0, cdf[rows, np.maximum(year - 1, 0)], 0.0)
    return year - 0.5 + (0.5 - below) / np.maximum(probs[rows, year], 1e-12)


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
        self.members: dict[str, MemberSpec] = member_specs(manifest, path.parent / "manifest.json")
        #: Every crop the folder's networks take, each once: the main model's first.
        self.crops: tuple[CropSpec, ...] = tuple(dict.fromkeys([self.crop, *(m.crop for m in self.members.values())]))
        self._num_threads = num_threads
        self._member_models: dict[str, TFLiteModel] = {}
        self._member_lock = threading.Lock()
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

    def predict(self, crops: np.ndarray | Mapping[CropSpec, np.ndarray], flip: bool = False) -> Estimates:
        """``crops``: (N, size, size, 3) uint8 from :func:`faceage_lib.inference.crop.crop_face`, the
        main model's; or a mapping from each :class:`CropSpec` of :attr:`crops` to the faces' crops of
        that spec (same faces, same order), when each member whose crops it holds is blended in.

        ``flip`` averages the predictions of each crop and its mirror image (test-time augmentation).
        """
        by_spec = dict(crops) if isinstance(crops, Mapping) else {self.crop: crops}
        if self.crop not in by_spec:
            raise ValueError(f"no crops of the model's own spec ({self.crop.key()}) among {list(by_spec)}")
        main = self._checked(by_spec[self.crop], self.crop)
        if not len(main):
            return Estimates(*(np.zeros(0) for _ in range(5)))
        outputs = self._batched(self._model, main, flip)
        probs = outputs[:, :-1].astype(np.float64)
        age, low, high = age_from_distribution(probs, self.interval_mass)
        p_female = outputs[:, -1].astype(np.float64)
        for member in self.members.values():
            if member.crop in by_spec and member.weight > 0:
                member_crops = self._checked(by_spec[member.crop], member.crop)
                if len(member_crops) != len(main):
                    raise ValueError(f"{len(member_crops)} crops for member {member.name}, {len(main)} for the model")
                out = self._batched(self._member(member), member_crops, flip)
                p_female = (1 - member.weight) * p_female + member.weight * out[:, member.p_female].astype(np.float64)
        return Estimates(age, low, high, p_female, self.under_18(mass_below(probs)))

    def age_distribution(self, crops: np.ndarray, flip: bool = False) -> np.ndarray:
        """The model's (N, MAX_AGE + 1) age distributions of the main model's ``crops``."""
        crops = self._checked(crops, self.crop)
        if not len(crops):
            return np.zeros((0, MAX_AGE + 1))
        return self._batched(self._model, crops, flip)[:, :-1].astype(np.float64)

    def member_p_female(self, name: str, crops: np.ndarray, flip: bool = False) -> np.ndarray:
        """Member ``name``'s own p_female of ``crops`` (of its spec), unblended."""
        member = self.members[name]
        crops = self._checked(crops, member.crop)
        if not len(crops):
            return np.zeros(0)
        return self._batched(self._member(member), crops, flip)[:, member.p_female].astype(np.float64)

    @staticmethod
    def _checked(crops: np.ndarray, spec: CropSpec) -> np.ndarray:
        crops = np.asarray(crops)
        if crops.ndim != 4 or crops.shape[1:] != (spec.size, spec.size, 3):
            raise ValueError(f"crops must be (N, {spec.size}, {spec.size}, 3), not {crops.shape}")
        return crops

    def _member(self, member: MemberSpec) -> TFLiteModel:
        """The member's LiteRT model, loaded (checksum verified) on first use."""
        with self._member_lock:
            if member.name not in self._member_models:
                path = verified_file(self.folder, self.manifest, member.file, "re-attach the member")
                model = TFLiteModel(path, self._num_threads)
                expected_in, expected_out = (member.crop.size, member.crop.size, 3), [(member.outputs,)]
                found_in, found_out = model.input_shape[1:], [shape[1:] for shape in model.output_shapes]
                if found_in != expected_in or found_out != expected_out:
                    raise ModelFileError(
                        f"{path} takes {found_in} and gives {found_out}, but the manifest says "
                        f"{expected_in} and {expected_out}: the member and its manifest do not match"
                    )
                self._member_models[member.name] = model
            return self._member_models[member.name]

    @staticmethod
    def _batched(model: TFLiteModel, crops: np.ndarray, flip: bool) -> np.ndarray:
        return np.concatenate([_run(model, crops[i : i + BATCH], flip) for i in range(0, len(crops), BATCH)])


def _run(model: TFLiteModel, batch: np.ndarray, flip: bool) -> np.ndarray:
    if not flip:
        return next(iter(model.run(batch.astype(np.float32)).values()))
    both = np.concatenate([batch, batch[:, :, ::-1]]).astype(np.float32)
    out = next(iter(model.run(both).values()))
    return (out[: len(batch)] + out[len(batch) :]) / 2
