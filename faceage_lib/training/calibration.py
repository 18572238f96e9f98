"""Calibrate a trained model on the val splits: its age range and its gender abstention.

* The age range is the central part of the predicted age distribution holding ``mass`` of
  its probability; ``mass`` is chosen so the range holds the true age for 80% of val faces,
  pooled over clean crops and crops of the corrupted photos (so it holds on both). With several
  datasets (UTKFace's chips and real-age photos such as APPA-REAL's) the range holds more often on
  the easier one; ``mass`` then puts them as evenly as it can around 80% (the one that falls
  furthest short or over is as close as possible), rather than letting the larger val split decide.
* Gender is reported only where the model is confident enough: the threshold is the lowest
  confidence at which the genders shown are right at least 97% of the time on val; below it
  the answer is "uncertain" (mostly young children). Only crops with a gender label count.
* ``p_under_18``, the probability that the person is under 18, starts as the age distribution's
  mass below 18, which an unsure model spreads too thin or too thick; a logistic map of its logit
  (Platt scaling, two numbers) fitted on clean val makes it mean what it says: of the faces given
  0.3, about 30% are minors. The manifest keeps the map and val's reliability table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import AGE_OF_MAJORITY, GENDER_THRESHOLD, INTERVAL_COVERAGE
from ..data.corruptions import CORRUPTIONS, corrupt
from ..data.crops import build_crops
from ..inference.crop import CropSpec
from ..inference.estimator import UnderAgeCalibration, age_from_distribution, logit, mass_below, reliability_table

#: Gender is shown only where val accuracy at that confidence or above is at least this.
GENDER_TARGET_ACCURACY = 0.97


def calibrate_interval_mass(
    probs: np.ndarray, ages: np.ndarray, coverage: float = INTERVAL_COVERAGE, groups: np.ndarray | None = None
) -> float:
    """The smallest central probability mass whose intervals hold ``coverage`` of the true ages; with
    ``groups`` (e.g. each row's dataset), the mass whose worst group is closest to ``coverage``."""
    ages = np.asarray(ages, dtype=np.float64)
    masses = np.linspace(0.5, 0.999, 200)
    held = []
    for mass in masses:
        _, low, high = age_from_distribution(probs, mass)
        held.append((low <= ages) & (ages <= high))
    if groups is None or len(np.unique(groups)) < 2:
        meets = [i for i, inside in enumerate(held) if np.mean(inside) >= coverage]
        return round(float(masses[meets[0]]), 4) if meets else 0.999
    groups = np.asarray(groups)
    names = np.unique(groups)
    worst = [max(abs(np.mean(inside[groups == name]) - coverage) for name in names) for inside in held]
    return round(float(masses[int(np.argmin(worst))]), 4)


def gender_min_confidence(p_female: np.ndarray, genders: np.ndarray, target: float = GENDER_TARGET_ACCURACY) -> float:
    """The lowest confidence max(p, 1 - p) above which predicted genders are right ``target`` of the time."""
    p_female = np.asarray(p_female, np.float64)
    confidence = np.maximum(p_female, 1 - p_female)
    right = (p_female >= GENDER_THRESHOLD) == (np.asarray(genders) == 1)
    order = np.argsort(-confidence, kind="stable")
    ranked = confidence[order]
    accuracy = np.cumsum(right[order]) / np.arange(1, len(order) + 1)  # of the k most confident
    whole_ties = np.r_[ranked[1:] != ranked[:-1], True]  # a threshold keeps all faces of equal confidence
    meets = np.flatnonzero((accuracy >= target) & whole_ties)
    if not len(meets):
        return 1.0
    return round(float(ranked[meets[-1]]), 4)


def fit_platt(scores: np.ndarray, labels: np.ndarray, steps: int = 100) -> tuple[float, float]:
    """``(slope, offset)`` of the logistic regression of the 0/1 ``labels`` on ``scores``: Newton's
    method from the constant model, each step halved until the log-likelihood improves, with a tiny
    ridge so that separable data stays finite."""
    x = np.column_stack([np.asarray(scores, np.float64), np.ones(len(scores))])
    y = np.asarray(labels, np.float64)
    ridge = 1e-6

    def log_likelihood(w: np.ndarray) -> float:
        z = x @ w
        return float(np.sum(y * z - np.logaddexp(0, z)) - ridge / 2 * w @ w)

    share = np.clip(y.mean(), 1e-6, 1 - 1e-6)
    w = np.array([0.0, np.log(share / (1 - share))])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(x @ w)))
        hessian = x.T @ (x * (p * (1 - p))[:, None]) + ridge * np.eye(2)
        step = np.linalg.solve(hessian, x.T @ (y - p) - ridge * w)
        before = log_likelihood(w)
        while log_likelihood(w + step) < before and np.abs(step).max() > 1e-12:
            step = step / 2
        w = w + step
        if np.abs(step).max() < 1e-9:
            break
    return float(w[0]), float(w[1])


def calibrate_under_18(age_probs: np.ndarray, ages: np.ndarray) -> dict:
    """The manifest's ``p_under_18`` entry: the Platt map of the mass below 18 fitted on val
    (``age_probs`` and the true ``ages`` of clean val crops), and val's reliability table after it."""
    mass = mass_below(np.asarray(age_probs, np.float64))
    minor = np.asarray(ages) < AGE_OF_MAJORITY
    slope, offset = fit_platt(logit(mass), minor)
    calibrated = UnderAgeCalibration(slope, offset)(mass)
    return {
        "slope": round(slope, 4),
        "offset": round(offset, 4),
        "val_images": len(minor),
        "val_minors": int(minor.sum()),
        "reliability_val": reliability_table(calibrated, minor),
    }


def calibrate(core, val_rows: pd.DataFrame, crop: CropSpec, progress: bool = False) -> dict:
    """Interval mass (clean + corrupted val), gender threshold and the under-18 map (clean val) for
    ``core`` on ``crop`` crops."""
    clean = _crops_of(val_rows, crop, progress)
    corrupted = [_crops_of(val_rows, crop, progress, name) for name in CORRUPTIONS]
    outputs = [core.predict(crops, batch_size=512, verbose=0) for crops in [clean, *corrupted]]
    probs = np.concatenate([o["age_probs"] for o in outputs])
    ages = np.tile(val_rows["age"].to_numpy(), len(outputs))
    sources = val_rows["source"].to_numpy() if "source" in val_rows else None
    mass = calibrate_interval_mass(probs, ages, groups=None if sources is None else np.tile(sources, len(outputs)))
    known = val_rows["gender"].notna().to_numpy()  # gender is calibrated on the crops that have a label
    p_female = outputs[0]["gender"][known, 0]
    threshold = gender_min_confidence(p_female, val_rows["gender"][known].to_numpy(int))
    confidence = np.maximum(p_female, 1 - p_female)
    return {
        "interval_mass": mass,
        "p_under_18": calibrate_under_18(outputs[0]["age_probs"], val_rows["age"].to_numpy()),
        "gender_min_confidence": threshold,
        "calibration": {
            "val_images": len(val_rows),
            "val_images_per_source": val_rows["source"].value_counts().to_dict() if sources is not None else {},
            "gender_val_images": int(known.sum()),
            "corruptions": list(CORRUPTIONS),
            "gender_uncertain_share_val": round(float(np.mean(confidence < threshold)), 4),
        },
    }


def _crops_of(rows: pd.DataFrame, crop: CropSpec, progress: bool, corruption: str | None = None) -> np.ndarray:
    alter = (lambda image, index: corrupt(image, corruption, seed=index)) if corruption else None
    crops, _ = build_crops(list(rows["path"]), crop, progress, alter)
    return crops
