"""faceage_lib.training.calibration: the age range's probability mass, chosen on val."""

from __future__ import annotations

import numpy as np

from faceage_lib.config import MAX_AGE
from faceage_lib.inference.estimator import age_from_distribution
from faceage_lib.training.calibration import calibrate_interval_mass

AGE_BINS = MAX_AGE + 1


def test_calibration_exact_distributions_need_the_smallest_mass():
    probs = np.eye(AGE_BINS)[[5, 30, 70]]
    assert calibrate_interval_mass(probs, np.array([5, 30, 70])) == 0.5


def test_calibration_impossible_coverage_gives_the_largest_mass():
    probs = np.eye(AGE_BINS)[[5, 30, 70]]
    assert calibrate_interval_mass(probs, np.array([50, 50, 50])) == 0.999


def test_calibration_on_uniform_rows():
    """Every row uniform over ages 0..99, true ages 0..99: the interval must span 80 ages of 100."""
    probs = np.zeros((100, AGE_BINS))
    probs[:, :100] = 0.01
    ages = np.arange(100)
    mass = calibrate_interval_mass(probs, ages)
    _, low, high = age_from_distribution(probs, mass)
    assert np.mean((low <= ages) & (ages <= high)) >= 0.8
    _, low, high = age_from_distribution(probs, mass - 0.003)  # one step of the search grid smaller
    assert np.mean((low <= ages) & (ages <= high)) < 0.8
    assert 0.78 <= mass <= 0.81
    assert calibrate_interval_mass(probs, ages, coverage=0.5) < mass
