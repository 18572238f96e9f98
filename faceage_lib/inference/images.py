"""Open anything a user hands over as an RGB uint8 array, safely.

Handles EXIF orientation, every PIL colour mode (grayscale, RGBA, palette, 16-bit, CMYK),
a decompression-bomb limit and a limit on the aspect ratio (so that the work any image causes is
bounded by its pixels). An animated GIF or a multi-page TIFF gives its first frame.
Every failure raises :class:`ImageError`.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import ImageError

#: Largest image accepted, in pixels (about 8000 x 8000). Larger files are refused, not decoded.
MAX_PIXELS = 64_000_000
#: Longest side over shortest side beyond which an image is refused (a 64,000,000 x 1 strip is a
#: 62 KB PNG, but no photo; a wide panorama is about 8:1).
MAX_ASPECT = 20
#: File extensions treated as images when walking folders.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"})

ImageSource = str | os.PathLike | bytes | bytearray | Image.Image | np.ndarray


def load_image(source: ImageSource) -> np.ndarray:
    """Return the photo as an ``(H, W, 3)`` uint8 RGB array, upright per its EXIF orientation."""
    if isinstance(source, np.ndarray):
        return _array_to_rgb(source)
    if isinstance(source, Image.Image):  # possibly lazily loaded: decode it under the same guard
        with _decoding("the image"):
            _check_size(source.width, source.height, "the image")
            source.load()
        return _pil_to_rgb(source)
    if isinstance(source, (bytes, bytearray)):
        return _open_and_convert(io.BytesIO(source), "the uploaded data")
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ImageError(f"{path}: no such file")
        with path.open("rb") as handle:
            return _open_and_convert(handle, str(path))
    raise ImageError(f"cannot read an image from a {type(source).__name__}")


def _open_and_convert(stream, name: str) -> np.ndarray:
    with _decoding(name):
        image = Image.open(stream)
        _check_size(image.width, image.height, name)
        image.load()
    return _pil_to_rgb(image)


@contextmanager
def _decoding(name: str) -> Iterator[None]:
    """Turn every way decoding ``name`` can fail into an :class:`ImageError`."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            yield
        except ImageError:
            raise
        except UnidentifiedImageError:
            raise ImageError(f"{name} is not an image file (or its format is not supported)") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageError(f"{name} is too large to open safely") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageError(f"{name} is damaged or truncated and cannot be decoded ({exc})") from None


def _check_size(width: int, height: int, name: str) -> None:
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"{name} is {width}x{height} pixels; the limit is {MAX_PIXELS // 1_000_000} megapixels"
        )
    if width < 1 or height < 1:
        raise ImageError(f"{name} has no pixels")
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise ImageError(
            f"{name} is {width}x{height} pixels, a strip rather than a photo: faceage reads images up to "
            f"{MAX_ASPECT}:1; crop it into parts"
        )


def _pil_to_rgb(image: Image.Image) -> np.ndarray:
    """Apply EXIF rotation and convert any mode to 8-bit RGB (transparency onto white)."""
    _check_size(image.width, image.height, "the image")
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block must not lose the photo
        pass
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        image = Image.fromarray(_wide_to_uint8(np.asarray(image)), "L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        image = background
    # np.array, not np.asarray: Pillow's array view is read-only, and callers draw on the result.
    return np.array(image.convert("RGB"), dtype=np.uint8, order="C")


def _array_to_rgb(array: np.ndarray) -> np.ndarray:
    """Accept HxW, HxWx1, HxWx3 or HxWx4 arrays (uint8, 16-bit or floats in [0, 1])."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageError(f"an image array must be HxW, HxWx3 or HxWx4, not {array.shape}")
    if array.dtype != np.uint8:
        array = _to_uint8(array)
    mode = {2: "L"}.get(array.ndim) or ("RGB" if array.shape[2] == 3 else "RGBA")
    return _pil_to_rgb(Image.fromarray(array, mode))


def _to_uint8(array: np.ndarray) -> np.ndarray:
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise ImageError("the image array contains NaN or infinite values")
        peak = 1.0 if array.max(initial=0) <= 1.0 else 255.0
        return np.clip(array / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if array.dtype == bool:  # a mask: True is white, as in PIL's mode "1"
        return array.astype(np.uint8) * 255
    if array.dtype == np.uint16:
        return _wide_to_uint8(array)
    if np.issubdtype(array.dtype, np.integer):
        return np.clip(array, 0, 255).astype(np.uint8)
    raise ImageError(f"unsupported image array type {array.dtype}")


def _wide_to_uint8(array: np.ndarray) -> np.ndarray:
    """16-bit (or 32-bit integer) values to 8 bits, by their peak: a full 16-bit range is divided
    by 257, while values that never pass 255 (8-bit data in a wide type) are kept as they are."""
    peak = int(array.max()) if array.size else 0
    scale = 255.0 / (65535.0 if peak > 255 else 255.0)
    return np.clip(array.astype(np.float64) * scale, 0, 255).astype(np.uint8)
