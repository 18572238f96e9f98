"""faceage_lib.training.augment: each augmentation on known arrays, and the layer as a whole."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest

from faceage_lib.training.augment import Augment, AugmentConfig

OFF = AugmentConfig(
    flip=0,
    rotation_degrees=0,
    scale=0,
    shift=0,
    brightness=0,
    contrast=0,
    downscale_p=0,
    cast_p=0,
    sepia_p=0,
    gamma_p=0,
    noise_p=0,
    grayscale_p=0,
    erase_p=0,
)


def _layer(**changes) -> Augment:
    return Augment(dataclasses.replace(OFF, **changes), seed=3)


def _faces(n: int = 16, side: int = 32) -> np.ndarray:
    """Smooth, varied RGB images in [0, 1] (a gradient plus a per-image colour)."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(0.2, 0.8, side, dtype=np.float32)
    base = (ramp[None, :, None] + ramp[:, None, None]) / 2
    return np.clip(base[None] * rng.uniform(0.6, 1.2, (n, 1, 1, 3)).astype(np.float32), 0, 1)


def test_identity_at_inference_and_with_everything_off():
    images = _faces() * 255
    layer = Augment(seed=0)
    np.testing.assert_array_equal(np.asarray(layer(images, training=False)), images)
    np.testing.assert_allclose(np.asarray(_layer()(images, training=True)), images, atol=0.02)


def test_the_full_layer_keeps_shape_range_and_changes_images():
    images = _faces() * 255
    out = np.asarray(Augment(seed=1)(images, training=True))
    assert out.shape == images.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 255
    assert np.abs(out - images).mean() > 5


def test_mirror():
    x = _faces()
    x[:, :, :8] = 0  # a dark left edge
    out = np.asarray(_layer(flip=1.0).geometry(x))
    np.testing.assert_allclose(out, x[:, :, ::-1], atol=1e-4)


def test_rotation_keeps_the_centre():
    x = _faces()
    out = np.asarray(_layer(rotation_degrees=12).geometry(x))
    np.testing.assert_allclose(out[:, 15:17, 15:17], x[:, 15:17, 15:17], atol=0.03)
    assert np.abs(out - x).mean() > 0.003


def test_noise_level_and_luminance_mode():
    x = np.full((400, 16, 16, 3), 0.5, np.float32)
    out = np.asarray(_layer(noise_p=1.0, noise_sigma=0.1).noise(x)) - 0.5
    per_image = out.reshape(400, -1).std(axis=1)
    assert per_image.max() <= 0.12  # sigma drawn from [0, 0.1]
    assert per_image.mean() == pytest.approx(0.05, abs=0.01)
    same_on_channels = np.all(np.isclose(out[..., 0], out[..., 1]) & np.isclose(out[..., 1], out[..., 2]), axis=(1, 2))
    assert 0.35 < same_on_channels.mean() < 0.65  # half luminance noise, half per channel


def test_grayscale_makes_channels_equal():
    out = np.asarray(_layer(grayscale_p=1.0).colour(_faces()))
    np.testing.assert_allclose(out[..., 0], out[..., 1], atol=1e-6)
    np.testing.assert_allclose(out[..., 1], out[..., 2], atol=1e-6)


def test_sepia_tints_towards_brown():
    out = np.asarray(_layer(sepia_p=1.0).colour(_faces()))
    assert np.all(out[..., 0] >= out[..., 1] - 1e-6) and np.all(out[..., 1] >= out[..., 2] - 1e-6)


def test_gamma_stays_in_range_and_changes_midtones():
    x = _faces()
    out = np.asarray(_layer(gamma_p=1.0).colour(x))
    assert out.min() >= 0 and out.max() <= 1
    assert np.abs(out - x).mean() > 0.01


def test_downscale_removes_fine_detail():
    checker = (np.indices((32, 32)).sum(0) % 2).astype(np.float32)
    x = np.repeat(checker[None, :, :, None], 3, axis=3).repeat(8, axis=0)
    out = np.asarray(_layer(downscale_p=1.0, downscale_sides=(8, 16)).downscale(x))
    assert out.std() < 0.1 * x.std()  # the one-pixel checkerboard is gone
    assert out.mean() == pytest.approx(0.5, abs=0.02)


def test_downscale_ignores_sides_not_below_the_input():
    x = _faces()
    out = np.asarray(_layer(downscale_p=1.0, downscale_sides=(32, 64)).downscale(x))
    np.testing.assert_array_equal(out, x)


def test_erase_hides_one_flat_square():
    x = np.zeros((32, 40, 40, 3), np.float32)
    out = np.asarray(_layer(erase_p=1.0, erase_side=(0.25, 0.25)).erase(x))
    for image in out:
        ys, xs = np.nonzero(image[..., 0] != 0)
        if len(ys):  # the grey may be 0 by chance
            assert ys.max() - ys.min() + 1 == xs.max() - xs.min() + 1 == 10
            assert np.unique(image[ys, xs]).size == 1


def test_layer_serialises_with_its_config():
    layer = Augment(dataclasses.replace(AugmentConfig(), noise_p=0.7), seed=5)
    again = Augment.from_config(layer.get_config())
    assert again.config == layer.config and again.seed == 5


@pytest.mark.slow
def test_runs_inside_a_compiled_train_step():
    inputs = keras.Input((32, 32, 3))
    outputs = keras.layers.Dense(1)(keras.layers.GlobalAveragePooling2D()(Augment(seed=0)(inputs)))
    model = keras.Model(inputs, outputs)
    model.compile("adam", "mse")
    history = model.fit(_faces(8) * 255, np.ones((8, 1)), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
