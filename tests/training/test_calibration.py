"""faceage_lib.training.calibration: the age range's mass and the gender threshold, chosen on val."""

from __future__ import annotations

import numpy as np
import pytest

from faceage_lib.config import MAX_AGE
from faceage_lib.inference.estimator import age_from_distribution
from faceage_lib.inference.predictor import decide_gender
from faceage_lib.training.calibration import (
    calibrate_interval_mass,
    calibrate_under_18,
    fit_platt,
    gender_min_confidence,
)

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


def test_calibration_with_groups_puts_an_easy_and_a_hard_dataset_evenly_around_the_target():
    """Two datasets with the same uniform predictions: one's true ages sit near the middle (easy), the
    other's spread over every age (hard). Pooled, the larger easy set would decide; by group, the mass
    is where the easy one holds as far above 80% as the hard one falls below."""
    probs = np.zeros((300, AGE_BINS))
    probs[:, :100] = 0.01
    easy, hard = np.tile(np.arange(30, 70), 5), np.arange(100)
    ages, groups = np.r_[easy, hard], np.r_[np.zeros(len(easy)), np.ones(len(hard))]
    mass = calibrate_interval_mass(probs, ages, groups=groups)
    _, low, high = age_from_distribution(probs, mass)
    inside = (low <= ages) & (ages <= high)
    held_easy, held_hard = inside[groups == 0].mean(), inside[groups == 1].mean()
    assert held_hard < 0.8 < held_easy
    assert abs((held_easy - 0.8) - (0.8 - held_hard)) <= 0.05
    assert mass > calibrate_interval_mass(probs, ages)  # pooled: the easy set alone sets a smaller range
    one_group = calibrate_interval_mass(probs[:100], hard, groups=np.ones(len(hard)))
    assert one_group == calibrate_interval_mass(probs[:100], hard)  # one group: as without groups


def test_gender_threshold_is_the_lowest_confidence_that_keeps_97_percent_right():
    # 100 faces: confident ones all right, the 10 least confident (0.55) half wrong
    p_female = np.r_[np.full(45, 0.99), np.full(45, 0.02), np.full(10, 0.55)]
    genders = np.r_[np.ones(45), np.zeros(45), np.ones(5), np.zeros(5)]
    assert gender_min_confidence(p_female, genders) == 0.98  # the 0.55 faces would bring it to 95%
    assert gender_min_confidence(p_female, genders, target=0.95) == 0.55


def test_gender_threshold_when_all_right_or_never_right_enough():
    assert gender_min_confidence(np.array([0.9, 0.2, 0.6]), np.array([1, 0, 1])) == 0.6
    assert gender_min_confidence(np.array([0.9, 0.1]), np.array([0, 1])) == 1.0


@pytest.mark.parametrize(
    "p_female, threshold, expected",
    [
        (0.9, 0.8, ("female", 0.9)),
        (0.1, 0.8, ("male", 0.9)),
        (0.6, 0.8, ("uncertain", 0.6)),
        (0.3, 0.8, ("uncertain", 0.7)),
        (0.5, 0.5, ("female", 0.5)),
        (0.8, 0.8, ("female", 0.8)),
    ],
)
def test_the_uncertain_rule(p_female, threshold, expected):
    gender, probability = decide_gender(p_female, threshold)
    assert (gender, round(probability, 6)) == expected


# --------------------------------------------------------------------------- p_under_18


def test_platt_recovers_a_known_logistic_map():
    rng = np.random.default_rng(0)
    scores = rng.normal(0, 2, 20_000)
    labels = rng.random(20_000) < 1 / (1 + np.exp(-(0.5 * scores - 1.0)))
    slope, offset = fit_platt(scores, labels)
    assert slope == pytest.approx(0.5, abs=0.05) and offset == pytest.approx(-1.0, abs=0.05)


def test_platt_stays_finite_on_separable_data():
    slope, offset = fit_platt(np.array([-2.0, -1.0, 1.0, 2.0]), np.array([0, 0, 1, 1]))
    assert np.isfinite(slope) and np.isfinite(offset) and slope > 0


def test_under_18_calibration_makes_an_overconfident_model_honest():
    """A model whose mass below 18 is far too sure (0.9 where 60% are minors): after the map, the
    faces given p are minors about p of the time."""
    rng = np.random.default_rng(1)
    n = 4000
    minor = rng.random(n) < 0.3
    sure = np.where(rng.random(n) < 0.6, minor, ~minor)  # right 60% of the time, but always 90% sure
    mass = np.where(sure, 0.9, 0.1)
    probs = np.zeros((n, AGE_BINS))
    probs[:, 10], probs[:, 40] = mass, 1 - mass
    entry = calibrate_under_18(probs, np.where(minor, 12, 30))
    assert entry["val_images"] == n and entry["val_minors"] == int(minor.sum())
    for row in entry["reliability_val"]:
        assert abs(row["mean_p"] - row["share_true"]) < 0.05
