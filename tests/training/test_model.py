"""faceage_lib.training.model: the multi-task Keras model, its loss, saving and LiteRT export."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from faceage_lib.inference.estimator import AgeGenderEstimator, median_age
from faceage_lib.training.model import AGE_BINS, build_model


def _crops(n: int, size: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


# --------------------------------------------------------------------------- model


def test_build_model_outputs():
    from faceage_lib.training.model import build_model, inference_model

    model = build_model(img_size=32, width=4)
    x = _crops(3).astype(np.float32)
    out = model.predict(x, verbose=0)
    assert out["age_probs"].shape == (3, AGE_BINS) == (3, 117)
    assert out["age"].shape == (3, 1)
    assert out["gender"].shape == (3, 1)
    np.testing.assert_allclose(out["age_probs"].sum(axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(out["age"][:, 0], out["age_probs"] @ np.arange(AGE_BINS), rtol=1e-5)
    assert np.all((out["gender"] > 0) & (out["gender"] < 1))
    joined = inference_model(model).predict(x, verbose=0)
    assert joined.shape == (3, AGE_BINS + 1)
    np.testing.assert_allclose(joined[:, :-1], out["age_probs"], atol=1e-6)
    np.testing.assert_allclose(joined[:, -1], out["gender"][:, 0], atol=1e-6)


@pytest.mark.parametrize("size, width", [(32, 4), (64, 8)])
def test_build_model_input_size(size, width):
    from faceage_lib.training.model import build_model

    model = build_model(img_size=size, width=width)
    assert tuple(model.inputs[0].shape) == (None, size, size, 3)


def test_age_distribution_loss_is_lowest_at_the_true_age():
    from faceage_lib.training.model import age_distribution_loss

    ages = np.arange(AGE_BINS)

    def gaussian(centre):
        p = np.exp(-0.5 * ((ages - centre) / 2.0) ** 2)
        return (p / p.sum())[None].astype(np.float32)

    at_truth = float(np.asarray(age_distribution_loss(np.array([40.0]), gaussian(40)))[0])
    off = float(np.asarray(age_distribution_loss(np.array([40.0]), gaussian(50)))[0])
    assert at_truth == pytest.approx(0, abs=1e-5)
    assert off > 1


def test_save_and_load_round_trip(tmp_path):
    from faceage_lib.training.model import build_model, load_keras_model

    keras.utils.set_random_seed(3)
    model = build_model(img_size=32, width=4)
    model.save(tmp_path / "m.keras")
    loaded = load_keras_model(tmp_path / "m.keras")
    x = _crops(4, seed=5).astype(np.float32)
    before, after = model.predict(x, verbose=0), loaded.predict(x, verbose=0)
    for name in ("age_probs", "age", "gender"):
        np.testing.assert_array_equal(after[name], before[name])


def test_tflite_matches_keras(tiny_model_dir):
    from faceage_lib.training.model import load_keras_model

    keras_model = load_keras_model(tiny_model_dir / "model.keras")
    estimator = AgeGenderEstimator(tiny_model_dir)
    assert estimator.img_size == 32
    assert estimator.interval_mass == 0.8
    crops = _crops(6, seed=7)
    expected = keras_model.predict(crops.astype(np.float32), verbose=0)
    got = estimator.predict(crops)
    np.testing.assert_allclose(got.age, median_age(expected["age_probs"].astype(np.float64)), atol=1e-3)
    np.testing.assert_allclose(got.p_female, expected["gender"][:, 0], atol=1e-4)
    assert np.all(got.age_low <= got.age) and np.all(got.age <= got.age_high)
    # the crops differ, so do the outputs (the test would notice a constant model)
    assert np.ptp(got.age) > 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("backbone", ["mobilenetv3small", "efficientnetb0"])
def test_keras_applications_backbones_build(backbone):
    """The pretrained-backbone option builds the same heads (weights=None: no download here)."""
    model = build_model(img_size=64, backbone=backbone, pretrained=False)
    outputs = model(np.zeros((2, 64, 64, 3), np.float32))
    assert outputs["age_probs"].shape == (2, AGE_BINS)
    assert outputs["age"].shape == (2, 1) and outputs["gender"].shape == (2, 1)


def test_unknown_backbone_is_refused():
    with pytest.raises(ValueError, match="unknown backbone"):
        build_model(backbone="resnet9000")


def test_each_backbone_has_defaults_a_notebook_can_follow():
    from faceage_lib.training.backbones import backbone_defaults

    assert backbone_defaults("compact") == (False, 64)  # from scratch: nothing to start from
    assert backbone_defaults("resnet10") == (True, 64)  # dlib's weights, made for 64 px
    assert backbone_defaults("mobilenetv3large") == (True, 128)
    with pytest.raises(ValueError, match="unknown backbone"):
        backbone_defaults("resnet9000")


def test_label_spread_grows_with_age():
    """With a growth of 0.1 year per year, a 60-year-old's label spread is 2 + 6 = 8 years: a
    distribution of that width centred on 60 is the loss's minimum, and one 5 years off costs less
    than it would with the fixed 2-year spread; a child's label barely changes."""
    from faceage_lib.training.model import AgeDistributionLoss, age_distribution_loss

    ages = np.arange(AGE_BINS)

    def gaussian(centre, sigma):
        p = np.exp(-0.5 * ((ages - centre) / sigma) ** 2)
        return (p / p.sum())[None].astype(np.float32)

    def loss(true, predicted, growth):
        return float(np.asarray(age_distribution_loss(np.array([true]), predicted, 2.0, growth))[0])

    assert loss(60.0, gaussian(60, 8.0), 0.1) == pytest.approx(0, abs=1e-5)
    assert loss(60.0, gaussian(65, 8.0), 0.1) < loss(60.0, gaussian(65, 2.0), 0.0)
    assert loss(1.0, gaussian(1, 2.1), 0.1) == pytest.approx(0, abs=1e-3)
    restored = AgeDistributionLoss.from_config(AgeDistributionLoss(2.0, 0.1).get_config())
    assert (restored.sigma, restored.growth) == (2.0, 0.1)
