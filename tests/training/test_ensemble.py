"""faceage_lib.training.ensemble: several models averaged as one."""

from __future__ import annotations

import numpy as np
import pytest

from faceage_lib.training.ensemble import ensemble_model
from faceage_lib.training.model import AGE_BINS, build_model, load_keras_model


@pytest.fixture(scope="module")
def members():
    import keras

    keras.utils.set_random_seed(0)
    return [build_model(img_size=32, width=4), build_model(img_size=32, width=8)]


def test_the_ensemble_is_the_weighted_mean_of_its_members(members, tmp_path):
    crops = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype(np.float32)
    first, second = (member.predict(crops, verbose=0) for member in members)
    assert not np.allclose(first["age_probs"], second["age_probs"])  # two different models
    model = ensemble_model(members, weights=[3, 1])
    got = model.predict(crops, verbose=0)
    for name in ("age_probs", "gender"):
        np.testing.assert_allclose(got[name], 0.75 * first[name] + 0.25 * second[name], atol=1e-6)
    np.testing.assert_allclose(got["age_probs"].sum(axis=1), 1, atol=1e-5)
    expected_age = got["age_probs"] @ np.arange(AGE_BINS)
    np.testing.assert_allclose(got["age"][:, 0], expected_age, rtol=1e-5)
    model.save(tmp_path / "ensemble.keras")
    again = load_keras_model(tmp_path / "ensemble.keras").predict(crops, verbose=0)
    np.testing.assert_allclose(again["age_probs"], got["age_probs"], atol=1e-6)


def test_equal_weights_by_default(members):
    crops = np.full((1, 32, 32, 3), 128, np.float32)
    got = ensemble_model(members).predict(crops, verbose=0)["gender"]
    mean = np.mean([member.predict(crops, verbose=0)["gender"] for member in members], axis=0)
    np.testing.assert_allclose(got, mean, atol=1e-6)


def test_what_cannot_be_an_ensemble_is_refused(members):
    with pytest.raises(ValueError, match="at least two"):
        ensemble_model(members[:1])
    with pytest.raises(ValueError, match="one positive weight per model"):
        ensemble_model(members, weights=[1])
    with pytest.raises(ValueError, match="one positive weight per model"):
        ensemble_model(members, weights=[1, 0])
    with pytest.raises(ValueError, match="different shapes"):
        ensemble_model([members[0], build_model(img_size=48, width=4)])
