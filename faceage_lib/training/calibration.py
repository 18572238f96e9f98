"""Calibrate a trained model on the val split: the probability mass of its age range."""

from __future__ import annotations

import numpy as np

from ..config import INTERVAL_COVERAGE
from ..inference.estimator import age_from_distribution


def calibrate_interval_mass(probs: np.ndarray, ages: np.ndarray, coverage: float = INTERVAL_COVERAGE) -> float:
    """The smallest central probability mass whose intervals hold ``coverage`` of the true ages."""
    ages = np.asarray(ages, dtype=np.float64)
    for mass in np.linspace(0.5, 0.999, 200):
        _, low, high = age_from_distribution(probs, mass)
        if np.mean((low <= ages) & (ages <= high)) >= coverage:
            return round(float(mass), 4)
    return 0.999
