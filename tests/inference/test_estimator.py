"""faceage_lib.inference.estimator: the model on LiteRT, and the age range from a distribution."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from faceage_lib.config import MAX_AGE
from faceage_lib.inference.estimator import AgeGenderEstimator, age_from_distribution, median_age

AGE_BINS = MAX_AGE + 1


def _crops(n: int, size: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


# --------------------------------------------------------------------------- age and its range from a distribution


def _one_hot(age: int, bins: int = AGE_BINS) -> np.ndarray:
    probs = np.zeros((1, bins))
    probs[0, age] = 1
    return probs


@pytest.mark.parametrize("mass", [0.5, 0.8, 0.99])
def test_one_hot_distribution(mass):
    age, low, high = age_from_distribution(_one_hot(37), mass)
    assert age[0] == low[0] == high[0] == 37


def test_uniform_distribution():
    """Uniform over 0..116: median 58; the central 80% runs from age 11 to age 105 (cdf 12/117, 106/117)."""
    age, low, high = age_from_distribution(np.full((1, AGE_BINS), 1 / AGE_BINS), 0.8)
    assert age[0] == pytest.approx(58)
    assert (low[0], high[0]) == (11, 105)
    assert (low[0] + high[0]) / 2 == pytest.approx(58)


def test_two_point_distribution_and_normalisation():
    """A quarter at 20, three quarters at 40: the median lies a third of the way into age 40's year
    (39.5 to 40.5), where the mass below reaches a half; the mean (35) would be neither age."""
    probs = np.zeros((2, AGE_BINS))
    probs[0, [20, 40]] = 0.25, 0.75
    probs[1, [20, 40]] = 1.0, 3.0  # not normalised: the same distribution
    age, low, high = age_from_distribution(probs, 0.8)
    np.testing.assert_allclose(age, [39.5 + 1 / 3] * 2)
    np.testing.assert_array_equal(low, [20, 20])
    np.testing.assert_array_equal(high, [40, 40])


def test_the_estimate_has_half_the_mass_below_it():
    rng = np.random.default_rng(3)
    probs = rng.random((50, AGE_BINS)) ** 8  # skewed, lumpy distributions
    probs /= probs.sum(axis=1, keepdims=True)
    age = median_age(probs)
    year = np.floor(age + 0.5).astype(int)  # the year (age - 0.5 to age + 0.5) the median falls in
    below = np.cumsum(probs, axis=1)[np.arange(50), year] - probs[np.arange(50), year] * (year + 0.5 - age)
    np.testing.assert_allclose(below, 0.5, atol=1e-9)
    assert not np.allclose(age, probs @ np.arange(AGE_BINS), atol=0.5)  # not the mean


def test_interval_always_holds_the_estimate():
    probs = np.zeros((1, AGE_BINS))
    probs[0, 10], probs[0, 100] = 0.95, 0.05  # median just above 10, but the central 50% is just age 10
    age, low, high = age_from_distribution(probs, 0.5)
    assert age[0] == pytest.approx(9.5 + 0.5 / 0.95)
    assert (low[0], high[0]) == (10, age[0])


def test_interval_widens_with_mass():
    rng = np.random.default_rng(0)
    probs = rng.random((5, AGE_BINS))
    widths = [age_from_distribution(probs, m)[2] - age_from_distribution(probs, m)[1] for m in (0.5, 0.8, 0.95)]
    assert np.all(widths[0] <= widths[1]) and np.all(widths[1] <= widths[2])


def test_estimator_input_checks_and_flip(tiny_model_dir):
    estimator = AgeGenderEstimator(tiny_model_dir)
    with pytest.raises(ValueError, match=r"crops must be \(N, 32, 32, 3\)"):
        estimator.predict(np.zeros((2, 64, 64, 3), np.uint8))
    empty = estimator.predict(np.zeros((0, 32, 32, 3), np.uint8))
    assert len(empty.age) == len(empty.p_female) == 0
    crops = _crops(3, seed=9)
    plain, mirrored = estimator.predict(crops), estimator.predict(crops[:, :, ::-1])
    flipped = estimator.predict(crops, flip=True)
    np.testing.assert_allclose(flipped.p_female, (plain.p_female + mirrored.p_female) / 2, atol=1e-5)
    # batched and one by one agree
    single = [estimator.predict(crops[i : i + 1]).age[0] for i in range(3)]
    np.testing.assert_allclose(single, plain.age, atol=1e-4)


# --------------------------------------------------------------------------- LiteRT: quiet, and clear errors


def test_loading_prints_nothing_to_stderr(capfd, tiny_model_dir):
    """LiteRT's native "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." is silenced."""
    from faceage_lib.inference.runtime import TFLiteModel

    capfd.readouterr()
    TFLiteModel(tiny_model_dir / "model.tflite")
    assert "XNNPACK" not in capfd.readouterr().err
    print("still written", file=sys.stderr)  # and stderr works afterwards
    assert "still written" in capfd.readouterr().err


def test_a_model_litert_cannot_load_is_a_model_file_error():
    from faceage_lib.errors import ModelFileError
    from faceage_lib.inference.runtime import TFLiteModel

    with pytest.raises(ModelFileError, match="the age model is not a model LiteRT can load"):
        TFLiteModel(b"TFL3 but not really a model", name="the age model")


def test_mass_below_18_and_its_calibration():
    from faceage_lib.inference.estimator import UnderAgeCalibration, mass_below

    probs = np.zeros((2, MAX_AGE + 1))
    probs[0, [10, 17, 18]] = [1, 1, 2]  # unnormalised: half of it under 18
    probs[1, 40] = 1
    np.testing.assert_allclose(mass_below(probs), [0.5, 0.0])
    identity = UnderAgeCalibration.from_manifest({})  # a model exported before 0.4
    np.testing.assert_allclose(identity(np.array([0.2, 0.7])), [0.2, 0.7], atol=1e-9)
    steeper = UnderAgeCalibration.from_manifest({"p_under_18": {"slope": 2.0, "offset": 0.0}})
    assert steeper(np.array([0.5]))[0] == pytest.approx(0.5) and steeper(np.array([0.8]))[0] > 0.9


def test_estimator_gives_p_under_18(tiny_model_dir):
    estimates = AgeGenderEstimator(tiny_model_dir).predict(np.zeros((3, 32, 32, 3), np.uint8))
    assert estimates.p_under_18.shape == (3,) and np.all((0 <= estimates.p_under_18) & (estimates.p_under_18 <= 1))
