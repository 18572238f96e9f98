"""The photos people bring, simulated: corruptions applied to a whole RGB uint8 photo.

Each corruption is a function ``(image, rng) -> image``; :data:`CORRUPTIONS` names the set the
robustness benchmark and the age-range calibration use. All of them return RGB uint8 arrays
of the input's shape.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

#: Rows of the classic sepia matrix (output R, G, B from input R, G, B).
SEPIA = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]])
LUMA = np.array([0.299, 0.587, 0.114])

Corruption = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def gaussian_noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Add Gaussian noise of standard deviation ``sigma`` (on 0-255), independent per channel."""
    return _to_uint8(image + rng.normal(0.0, sigma, image.shape))


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """Round-trip through JPEG at ``quality`` (1-100)."""
    ok, encoded = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR) if ok else None
    if decoded is None:
        raise ValueError("the JPEG round trip failed")
    return np.ascontiguousarray(decoded[:, :, ::-1])


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Blur with a Gaussian of ``sigma`` pixels (out of focus, motion-free)."""
    return cv2.GaussianBlur(image, (0, 0), sigma)


def downscale(image: np.ndarray, width: int) -> np.ndarray:
    """Shrink to ``width`` pixels wide (area average) and enlarge back (bilinear)."""
    height = max(1, round(image.shape[0] * width / image.shape[1]))
    small = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)


def grayscale(image: np.ndarray) -> np.ndarray:
    """Luminance in all three channels."""
    return _to_uint8(np.repeat((image @ LUMA)[..., None], 3, axis=-1))


def sepia(image: np.ndarray) -> np.ndarray:
    """The brown tint of an old print."""
    return _to_uint8(image @ SEPIA.T)


def contrast(image: np.ndarray, factor: float) -> np.ndarray:
    """Scale the contrast around the photo's mean intensity (``factor`` < 1: a faded photo)."""
    mean = image.mean()
    return _to_uint8((image.astype(np.float64) - mean) * factor + mean)


CORRUPTIONS: dict[str, Corruption] = {
    "noise 8": lambda image, rng: gaussian_noise(image, 8, rng),
    "noise 16": lambda image, rng: gaussian_noise(image, 16, rng),
    "jpeg 20": lambda image, rng: jpeg(image, 20),
    "blur 1.5": lambda image, rng: gaussian_blur(image, 1.5),
    "downscale 32": lambda image, rng: downscale(image, 32),
    "grayscale": lambda image, rng: grayscale(image),
    "sepia + noise 12": lambda image, rng: gaussian_noise(sepia(image), 12, rng),
    "contrast 0.6": lambda image, rng: contrast(image, 0.6),
}


def corrupt(image: np.ndarray, name: str, seed: int = 0) -> np.ndarray:
    """Apply the corruption ``name`` of :data:`CORRUPTIONS` with its own seeded randomness."""
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; choose one of {', '.join(CORRUPTIONS)}")
    return CORRUPTIONS[name](image, np.random.default_rng(seed))
