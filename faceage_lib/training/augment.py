"""Training-time augmentation as one Keras layer, written in ``keras.ops`` for every backend.

Two kinds, each drawn per crop with its own probability:

* **pose and light**: mirror, rotation, scale, shift, brightness, contrast; and random erasing
  (a square hidden, as by a hand or a hat);
* **capture quality**, the photos people bring: down-scaled and back (a small face in a big photo),
  a colour cast or sepia (old prints), gamma, sensor noise (luminance or per channel), grayscale.

Without the second kind the model reads noise as wrinkles: +9 years at noise sigma 16.
The layer is active only when ``training`` is true; it runs inside the compiled train step
(jit-compatible on JAX, graph mode on TensorFlow), so augmentation costs no input pipeline.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from .backend import keras  # noqa: I001  (first: Keras imported quietly)
from keras import ops

from ..data.corruptions import LUMA, SEPIA  # the same tints the robustness benchmark applies


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges and probabilities of every augmentation (values on a [0, 1] intensity scale)."""

    flip: float = 0.5
    rotation_degrees: float = 12.0
    scale: float = 0.12
    shift: float = 0.08
    brightness: float = 0.2
    contrast: float = 0.2
    downscale_p: float = 0.3
    downscale_sides: tuple[int, ...] = (24, 32, 40, 48, 56, 64, 80, 96)  # face widths (px): those under the input side
    cast_p: float = 0.1
    cast: float = 0.15
    sepia_p: float = 0.1
    gamma_p: float = 0.3
    gamma: tuple[float, float] = (0.7, 1.4)
    noise_p: float = 0.4
    noise_sigma: float = 20 / 255
    grayscale_p: float = 0.1
    erase_p: float = 0.25
    erase_side: tuple[float, float] = (0.1, 0.4)


@keras.saving.register_keras_serializable("faceage")
class Augment(keras.layers.Layer):
    """Randomly augment a batch of RGB crops, float32 in [0, 255]; identity at inference."""

    def __init__(self, config: AugmentConfig | dict | None = None, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.config = AugmentConfig(**config) if isinstance(config, dict) else (config or AugmentConfig())
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def get_config(self) -> dict:
        return {**super().get_config(), "config": asdict(self.config), "seed": self.seed}

    def compute_output_shape(self, input_shape):
        return input_shape

    def call(self, images, training=None):
        if not training:
            return images
        x = ops.cast(images, "float32") / 255.0
        x = self.geometry(x)
        x = self.light(x)
        x = self.colour(x)
        x = self.downscale(x)
        x = self.noise(x)
        x = self.erase(x)
        return ops.clip(x, 0.0, 1.0) * 255.0

    # ------------------------------------------------------------------ random draws

    def _uniform(self, batch, low=0.0, high=1.0, shape=()):
        return keras.random.uniform((batch, *shape), low, high, seed=self.seed_generator)

    def _chance(self, batch, p):
        """Per-crop 0/1 mask of shape (N, 1, 1, 1) that is 1 with probability ``p``."""
        return ops.cast(self._uniform(batch, shape=(1, 1, 1)) < p, "float32")

    # ------------------------------------------------------------------ augmentations

    def geometry(self, x):
        """Mirror, rotate, scale and shift in one bilinear warp (edges reflected)."""
        c, n, side = self.config, ops.shape(x)[0], ops.shape(x)[1]
        angle = self._uniform(n, -1.0, 1.0) * (c.rotation_degrees * math.pi / 180)
        zoom = 1.0 + self._uniform(n, -c.scale, c.scale)
        mirror = ops.where(self._uniform(n) < c.flip, -1.0, 1.0)
        size = ops.cast(side, "float32")
        shift_x, shift_y = (self._uniform(n, -c.shift, c.shift) * size for _ in range(2))
        # Output pixel p maps to input pixel A (p - centre - shift) + centre, A = rotation / zoom, mirrored.
        cos, sin = ops.cos(angle) / zoom, ops.sin(angle) / zoom
        a00, a01, a10, a11 = cos * mirror, -sin, sin * mirror, cos
        centre = (size - 1.0) / 2.0
        px, py = centre + shift_x, centre + shift_y
        transform = ops.stack(
            [
                a00,
                a01,
                centre - a00 * px - a01 * py,
                a10,
                a11,
                centre - a10 * px - a11 * py,
                ops.zeros_like(angle),
                ops.zeros_like(angle),
            ],
            axis=1,
        )
        return ops.image.affine_transform(x, transform, fill_mode="reflect")

    def light(self, x):
        """Brightness (a gain) and contrast (around each crop's mean)."""
        c, n = self.config, ops.shape(x)[0]
        gain = 1.0 + self._uniform(n, -c.brightness, c.brightness, (1, 1, 1))
        contrast = 1.0 + self._uniform(n, -c.contrast, c.contrast, (1, 1, 1))
        mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
        return (x * gain - mean * gain) * contrast + mean * gain

    def colour(self, x):
        """A colour cast or sepia (old prints), gamma, grayscale."""
        c, n = self.config, ops.shape(x)[0]
        pick = self._uniform(n, shape=(1, 1, 1))
        cast = 1.0 + self._uniform(n, -c.cast, c.cast, (1, 1, 3))
        x = ops.where(pick < c.cast_p, x * cast, x)
        sepia = ops.einsum("nhwc,dc->nhwd", x, ops.convert_to_tensor(SEPIA, "float32"))
        x = ops.where((pick >= c.cast_p) & (pick < c.cast_p + c.sepia_p), sepia, x)
        low, high = math.log(c.gamma[0]), math.log(c.gamma[1])
        gamma = ops.exp(self._uniform(n, low, high, (1, 1, 1)))
        x = ops.clip(x, 0.0, 1.0)
        x = ops.where(self._chance(n, c.gamma_p) > 0, ops.power(x + 1e-6, gamma), x)
        gray = ops.sum(x * ops.convert_to_tensor(LUMA, "float32"), axis=-1, keepdims=True)
        return ops.where(self._chance(n, c.grayscale_p) > 0, ops.repeat(gray, 3, axis=-1), x)

    def downscale(self, x):
        """Down-scale to a random smaller side and back up (one of a few sides, per crop)."""
        c, n, side = self.config, ops.shape(x)[0], x.shape[1]
        sides = sorted(s for s in set(c.downscale_sides) if s < side)
        if not sides:
            return x
        choice = ops.floor(self._uniform(n, 0.0, len(sides), (1, 1, 1)))
        apply = self._chance(n, c.downscale_p)
        out = x
        for index, small in enumerate(sides):
            blurred = ops.image.resize(ops.image.resize(x, (small, small), antialias=True), (side, side))
            out = ops.where((apply > 0) & (choice == index), blurred, out)
        return out

    def noise(self, x):
        """Gaussian sensor noise: half the time the same on all channels, else per channel."""
        c, n = self.config, ops.shape(x)[0]
        sigma = self._uniform(n, 0.0, c.noise_sigma, (1, 1, 1)) * self._chance(n, c.noise_p)
        per_channel = keras.random.normal(ops.shape(x), seed=self.seed_generator)
        luminance = ops.repeat(per_channel[..., :1], 3, axis=-1)
        noise = ops.where(self._chance(n, 0.5) > 0, luminance, per_channel)
        return x + noise * sigma

    def erase(self, x):
        """Hide one square (10-40% of the side) of a quarter of the crops behind a flat grey."""
        c, n, side = self.config, ops.shape(x)[0], x.shape[1]
        size = self._uniform(n, *c.erase_side, (1, 1)) * side
        x0 = self._uniform(n, shape=(1, 1)) * (side - size)
        y0 = self._uniform(n, shape=(1, 1)) * (side - size)
        grid = ops.cast(ops.arange(side), "float32")
        inside_x = (grid[None, None, :] >= x0) & (grid[None, None, :] < x0 + size)
        inside_y = (grid[None, :, None] >= y0) & (grid[None, :, None] < y0 + size)
        mask = ops.cast(inside_x & inside_y, "float32")[..., None] * self._chance(n, c.erase_p)
        grey = self._uniform(n, shape=(1, 1, 1))
        return x * (1.0 - mask) + grey * mask
