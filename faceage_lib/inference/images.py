"""Open anything a user hands over as an RGB uint8 array, safely.

Only the photo formats people have are read (:data:`PHOTO_FORMATS`; never PostScript or PDF, which
Pillow renders with Ghostscript). The work of decoding is bounded before it starts: the pixel count
and aspect ratio from the header, and a JPEG's number of scans from its markers. A large JPEG can be
decoded at a reduced size (:func:`open_photo`'s ``min_pixels``), which cuts its memory by 4 or more;
other formats are shrunk as soon as they are decoded.
EXIF orientation is applied and every PIL colour mode converted (grayscale, RGBA, palette, 16-bit,
CMYK); an animated GIF or a multi-page TIFF gives its first frame. Every failure raises :class:`ImageError`.
A whole, upright colour JPEG is read by :mod:`.jpeg_header` and decoded by OpenCV straight into the
array (:func:`_plain_jpeg`): the same libjpeg-turbo, the same pixels, without Pillow's copies (a
640x480 photo: 0.9 ms, was 1.7 ms), and without importing Pillow at all (10 ms of a cold start).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import io
import math
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Union

import cv2
import numpy as np

from ..errors import ImageError
from .jpeg_header import plain_jpeg_size

if TYPE_CHECKING:  # Pillow is imported where a photo needs it: a plain JPEG never does
    from PIL import Image

#: Largest image accepted, in pixels (about 8000 x 8000). Larger files are refused, not decoded.
MAX_PIXELS = 64_000_000
#: Longest side over shortest side beyond which an image is refused (a 64,000,000 x 1 strip is a
#: 62 KB PNG, but no photo; a wide panorama is about 8:1).
MAX_ASPECT = 20
#: Most scans (SOS markers) a JPEG may hold. Encoders write 1 (baseline) to about 10 (progressive),
#: plus one per embedded thumbnail; each scan costs a pass over the whole photo (up to 40 ms at 64 MP
#: here), so a 2 MB file of 20,000 scans would take minutes.
MAX_JPEG_SCANS = 50
#: Pillow's names of the formats read: the photos people have ("JPEG" includes MPO, a camera's
#: multi-picture JPEG). HEIF and AVIF only where Pillow (or a plugin such as pillow-heif) reads them.
PHOTO_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
OPTIONAL_FORMATS = ("AVIF", "HEIF")
#: The plugin module of a format, where it is not ``PIL.<Name>ImagePlugin`` with the name in title case.
PIL_PLUGINS = {"WEBP": "WebP"}
#: Formats whose decoders need far more memory per pixel, with a lower limit: libwebp's decoder keeps
#: two RGBA canvases besides the picture, so a 64 MP WebP took 1.2 GB (a 24 MP one about 0.45 GB).
FORMAT_MAX_PIXELS = {"WEBP": 24_000_000}
#: How every JPEG file starts: its start-of-image marker and the next marker's first byte.
JPEG_START = b"\xff\xd8\xff"
#: The JPEG marker that ends the file (end of image): a file that does not end with it is decoded by
#: Pillow, which says when it is truncated (OpenCV fills the missing part in grey).
JPEG_END = b"\xff\xd9"
#: The JPEG marker that starts a scan (counted against :data:`MAX_JPEG_SCANS`).
JPEG_SCAN = b"\xff\xda"
#: OpenCV's flag for RGB decoding (OpenCV 4.10 and later; before it, Pillow decodes every photo).
_CV_RGB = getattr(cv2, "IMREAD_COLOR_RGB", None)
#: File extensions treated as images when walking folders.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"})

ImageSource = Union[str, os.PathLike, bytes, bytearray, "Image.Image", np.ndarray]


@dataclass(frozen=True)
class Photo:
    """A decoded, upright RGB photo; ``scale``: pixels of the original per pixel of ``pixels``
    (1.0 unless it was decoded at a reduced size)."""

    pixels: np.ndarray
    scale: float = 1.0


@dataclass(frozen=True)
class PendingPhoto:
    """A photo whose header is read and checked, not yet decoded: ``size`` pixels once decoded."""

    size: int
    decode: Callable[[], Photo]


def load_image(source: ImageSource) -> np.ndarray:
    """Return the photo as an ``(H, W, 3)`` uint8 RGB array, upright per its EXIF orientation."""
    return open_photo(source).decode().pixels


def open_photo(source: ImageSource, min_pixels: int | None = None) -> PendingPhoto:
    """Read and check ``source``'s header. With ``min_pixels``, a JPEG file of more than 4 times that
    many pixels is decoded at 1/2, 1/4 or 1/8 of its sides, keeping at least ``min_pixels``, and any
    other photo that large is shrunk by a whole factor once decoded (the decoded photo's ``scale``)."""
    if isinstance(source, np.ndarray):
        return PendingPhoto(
            source.size // (source.shape[2] if source.ndim == 3 else 1), lambda: Photo(_array_to_rgb(source))
        )
    pillow = sys.modules.get("PIL.Image")  # a Pillow image exists only once Pillow is imported
    if pillow is not None and isinstance(source, pillow.Image):  # maybe lazy: the same guard, never drafted
        return _pending(source, "the image", None)
    if isinstance(source, (bytes, bytearray)):
        return _open(bytes(source), "the uploaded data", min_pixels)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ImageError(f"{path}: no such file")
        try:
            data = path.read_bytes()
        except OSError as error:
            raise ImageError(f"{path} could not be read ({error.strerror or error})") from None
        return _open(data, str(path), min_pixels)
    raise ImageError(f"cannot read an image from a {type(source).__name__}")


@functools.cache
def _plugins_loaded() -> None:
    """Import Pillow's plugins of :data:`PHOTO_FORMATS` and :data:`OPTIONAL_FORMATS`, and no other:
    ``Image.init()`` imports all forty of them (35 ms of a cold start, here)."""
    for name in PHOTO_FORMATS + OPTIONAL_FORMATS:
        with contextlib.suppress(ImportError):  # AVIF: Pillow 11.2 or later
            importlib.import_module(f"PIL.{PIL_PLUGINS.get(name, name.title())}ImagePlugin")


def photo_formats() -> tuple[str, ...]:
    """The formats :func:`open_photo` reads: :data:`PHOTO_FORMATS` and those of
    :data:`OPTIONAL_FORMATS` that this Pillow can open (HEIF once a plugin such as pillow-heif registered it)."""
    from PIL import Image

    _plugins_loaded()
    return PHOTO_FORMATS + tuple(name for name in OPTIONAL_FORMATS if name in Image.OPEN)


@functools.cache
def _jpeg_plugin_loaded() -> None:
    """Import Pillow's JPEG plugin, and no other: ``Image.open`` of bytes first imports the BMP,
    GIF, PPM and PNG plugins unless Pillow counts its common plugins as loaded (11 ms of a cold
    start). Any other format's plugin is still imported before it is opened (:func:`photo_formats`,
    or Pillow's own ``init()`` for a format it does not know yet)."""
    from PIL import Image

    importlib.import_module("PIL.JpegImagePlugin")
    Image._initialized = max(Image._initialized, 1)


def _open(data: bytes, name: str, min_pixels: int | None) -> PendingPhoto:
    plain = _plain_jpeg(data, name, min_pixels) if data.startswith(JPEG_START) else None
    return plain if plain is not None else _open_with_pillow(data, name, min_pixels)


def _plain_jpeg(data: bytes, name: str, min_pixels: int | None) -> PendingPhoto | None:
    """A plain colour JPEG (:func:`.jpeg_header.plain_jpeg_size`), whole (it ends with the end
    marker) and not to be drafted, checked and then decoded by OpenCV: pixel for pixel what Pillow
    gives (both are libjpeg-turbo, and the tests compare them). ``None`` for any other, which
    Pillow reads: an MPO, grayscale or CMYK, turned by its orientation, cut short, large."""
    flags = None if _CV_RGB is None else _CV_RGB | cv2.IMREAD_IGNORE_ORIENTATION
    size = plain_jpeg_size(data) if flags is not None and data.endswith(JPEG_END) else None
    if flags is None or size is None or (min_pixels and size[0] * size[1] > 4 * min_pixels):
        return None
    _check_scans(data, name)
    width, height = size
    _check_size(width, height, name, "JPEG")

    def decode() -> Photo:
        with _decoding(name):
            try:
                pixels = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
            except cv2.error:
                pixels = None
        if pixels is None or pixels.shape != (height, width, 3):  # damaged: Pillow says how
            return _open_with_pillow(data, name, min_pixels).decode()
        return Photo(pixels)

    return PendingPhoto(width * height, decode)


def _open_with_pillow(data: bytes, name: str, min_pixels: int | None) -> PendingPhoto:
    from PIL import Image

    # A JPEG (an MPO too) needs only Pillow's JPEG plugin: the other formats' plugins stay unloaded.
    if data.startswith(JPEG_START):
        _jpeg_plugin_loaded()
        formats: tuple[str, ...] = ("JPEG",)
    else:
        formats = photo_formats()
    with _decoding(name):
        image = Image.open(io.BytesIO(data), formats=formats)
        if image.format in ("JPEG", "MPO"):
            _check_scans(data, name)
    return _pending(image, name, min_pixels)


def _check_scans(data: bytes, name: str) -> None:
    if data.count(JPEG_SCAN) > MAX_JPEG_SCANS:
        raise ImageError(f"{name} is a JPEG of more than {MAX_JPEG_SCANS} scans, too costly to decode")


def _pending(image: Image.Image, name: str, min_pixels: int | None) -> PendingPhoto:
    _check_size(image.width, image.height, name, image.format)
    side = max(image.size)
    if min_pixels and image.format in ("JPEG", "MPO") and image.width * image.height > 4 * min_pixels:
        shrink = math.sqrt(min_pixels / (image.width * image.height))
        with _decoding(name):
            image.draft("RGB", (math.ceil(image.width * shrink), math.ceil(image.height * shrink)))

    def decode() -> Photo:
        with _decoding(name):
            image.load()
            pixels = _pil_to_rgb(image, min_pixels)
            return Photo(pixels, side / max(pixels.shape[:2]))  # the longest side: EXIF may have turned it

    return PendingPhoto(image.width * image.height, decode)


@contextlib.contextmanager
def _decoding(name: str) -> Iterator[None]:
    """Turn every way decoding ``name`` can fail into an :class:`ImageError`: a decoder may raise
    anything on a crafted file (the QOI, DDS and AVIF readers raised a dozen kinds under fuzzing)."""
    try:
        yield
    except ImageError:
        raise
    except MemoryError:
        raise ImageError(f"{name} needs more memory to decode than the server has free") from None
    except Exception as exc:  # noqa: BLE001 - any decoder bug is this file's problem, not the caller's
        raise _decoding_error(name, exc) from None


def _decoding_error(name: str, exc: Exception) -> ImageError:
    from PIL import Image, UnidentifiedImageError  # only once something failed: a plain JPEG needs no Pillow

    if isinstance(exc, UnidentifiedImageError):
        return ImageError(f"{name} is not an image file (or its format is not supported)")
    if isinstance(exc, Image.DecompressionBombError):
        return ImageError(f"{name} is too large to open safely")
    if isinstance(exc, (OSError, SyntaxError, ValueError)):
        return ImageError(f"{name} is damaged or truncated and cannot be decoded ({exc})")
    return ImageError(f"{name} is damaged and cannot be decoded ({type(exc).__name__})")


def _check_size(width: int, height: int, name: str, image_format: str | None = None) -> None:
    limit = FORMAT_MAX_PIXELS.get(image_format or "", MAX_PIXELS)
    if width * height > limit:
        kind = f" for a {image_format} file" if limit != MAX_PIXELS else ""
        raise ImageError(f"{name} is {width}x{height} pixels; the limit{kind} is {limit // 1_000_000} megapixels")
    if width < 1 or height < 1:
        raise ImageError(f"{name} has no pixels")
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise ImageError(
            f"{name} is {width}x{height} pixels, a strip rather than a photo: faceage reads images up to "
            f"{MAX_ASPECT}:1; crop it into parts"
        )


def _pil_to_rgb(image: Image.Image, min_pixels: int | None = None) -> np.ndarray:
    """Apply EXIF rotation and convert any mode to 8-bit RGB (transparency onto white); with
    ``min_pixels``, shrink by a whole factor (a box filter) while keeping at least that many pixels,
    as draft mode does for a JPEG while decoding."""
    from PIL import Image, ImageOps

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
    image = image.convert("RGB")
    factor = math.isqrt(image.width * image.height // min_pixels) if min_pixels else 1
    if factor >= 2:
        image = image.reduce(factor)
    # np.array, not np.asarray: Pillow's array view is read-only, and callers draw on the result.
    return np.array(image, dtype=np.uint8, order="C")


def _array_to_rgb(array: np.ndarray) -> np.ndarray:
    """Accept HxW, HxWx1, HxWx3 or HxWx4 arrays (uint8, 16-bit or floats in [0, 1])."""
    from PIL import Image

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
