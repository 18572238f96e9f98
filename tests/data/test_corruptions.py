"""faceage_lib.data.corruptions on known arrays: levels, value ranges, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from faceage_lib.data import corruptions
from faceage_lib.data.corruptions import CORRUPTIONS, corrupt


def _photo(height: int = 120, width: int = 160) -> np.ndarray:
    """A smooth colour photo with mid-range values (no clipping under noise)."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([80 + 60 * x / width, 90 + 50 * y / height, 110 + 30 * (x + y) / (width + height)], axis=-1).astype(
        np.uint8
    )


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_every_corruption_keeps_shape_and_type_and_is_deterministic(name):
    photo = _photo()
    out = corrupt(photo, name, seed=7)
    assert out.shape == photo.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out, corrupt(photo, name, seed=7))
    assert not np.array_equal(out, photo)


@pytest.mark.parametrize("sigma", [8, 16])
def test_noise_has_the_stated_sigma(sigma):
    photo = _photo(300, 300)
    added = corrupt(photo, f"noise {sigma}").astype(float) - photo
    assert added.std() == pytest.approx(sigma, rel=0.05)
    assert abs(added.mean()) < 0.5
    assert not np.array_equal(corrupt(photo, f"noise {sigma}", seed=1), corrupt(photo, f"noise {sigma}", seed=2))


def test_jpeg_round_trip_is_close_but_lossy():
    photo = _photo()
    low, high = corruptions.jpeg(photo, 20), corruptions.jpeg(photo, 95)
    error = lambda image: np.abs(image.astype(float) - photo).mean()  # noqa: E731
    assert 0 < error(high) < error(low) < 6


def test_blur_and_downscale_remove_fine_detail():
    checker = ((np.indices((64, 64)).sum(0) % 2) * 200 + 20).astype(np.uint8)
    photo = np.repeat(checker[..., None], 3, axis=2)
    assert corruptions.gaussian_blur(photo, 1.5).std() < 0.1 * photo.std()
    small = corruptions.downscale(photo, 32)
    assert small.std() < 0.1 * photo.std()


def test_grayscale_and_sepia():
    gray = corruptions.grayscale(_photo())
    assert (gray[..., 0] == gray[..., 1]).all() and (gray[..., 1] == gray[..., 2]).all()
    sepia = corruptions.sepia(_photo()).astype(int)
    assert (sepia[..., 0] >= sepia[..., 1]).all() and (sepia[..., 1] >= sepia[..., 2]).all()


def test_contrast_scales_spread_around_the_mean():
    photo = _photo()
    faded = corruptions.contrast(photo, 0.6)
    assert faded.std() == pytest.approx(0.6 * photo.std(), rel=0.02)
    assert faded.mean() == pytest.approx(photo.mean(), abs=0.6)


def test_unknown_corruption():
    with pytest.raises(ValueError, match="unknown corruption 'fog'"):
        corrupt(_photo(), "fog")
