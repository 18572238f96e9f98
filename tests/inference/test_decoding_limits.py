"""Bounded decoding (issue 17): a format allow-list, a JPEG's scans counted before decoding, reduced-size
decoding of large JPEGs, every decoder failure an ImageError (with a seeded fuzz test), and no
process-wide warning filters left behind."""

from __future__ import annotations

import io
import random
import threading
import warnings

import numpy as np
import pytest
from PIL import Image

from faceage_lib.errors import ImageError
from faceage_lib.inference import images
from faceage_lib.inference.images import load_image, open_photo

#: A 66-byte EPS that loops forever in Ghostscript (where it is installed).
LOOPING_EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n{ } loop\nshowpage\n"


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _photo(width: int = 64, height: int = 48) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize((width, height))


def test_eps_named_jpg_is_refused_without_ghostscript(tmp_path, monkeypatch):
    import subprocess

    def no_ghostscript(*args, **kwargs):
        raise AssertionError("Ghostscript was started")

    monkeypatch.setattr(subprocess, "Popen", no_ghostscript)
    monkeypatch.setattr(subprocess, "check_call", no_ghostscript)
    path = tmp_path / "photo.jpg"
    path.write_bytes(LOOPING_EPS)
    with pytest.raises(ImageError, match="not an image file"):
        load_image(path)


@pytest.mark.parametrize("fmt", ["ICO", "PDF", "TGA", "PCX", "PPM", "QOI", "DDS", "SGI"])
def test_formats_outside_the_allow_list_are_refused(fmt):
    try:
        data = _encode(_photo(), fmt)
    except (KeyError, OSError, ValueError):
        pytest.skip(f"this Pillow cannot write {fmt}")
    with pytest.raises(ImageError, match="not an image file"):
        load_image(data)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"])
def test_photo_formats_are_read(fmt):
    assert load_image(_encode(_photo(), fmt)).shape == (48, 64, 3)


def test_a_webp_has_a_lower_pixel_limit():
    """libwebp keeps two RGBA canvases: a 64 MP WebP took 1.2 GB to decode."""
    data = _encode(Image.new("RGB", (6000, 5000), (90, 100, 110)), "WEBP", quality=10)
    with pytest.raises(ImageError, match="6000x5000 pixels; the limit for a WEBP file is 24 megapixels"):
        open_photo(data)
    assert open_photo(_encode(Image.new("RGB", (6000, 4000)), "WEBP", quality=10)).size == 24_000_000


def test_an_ico_of_81_megapixels_is_not_decoded():
    """An ICO's frames were decoded before the size check; ICO is no photo format now."""
    data = _encode(Image.new("RGB", (256, 256)), "ICO", sizes=[(256, 256)])
    with pytest.raises(ImageError, match="not an image file"):
        load_image(data)


def _with_scans(jpeg: bytes, extra: int) -> bytes:
    """``jpeg`` with ``extra`` copies of its last scan inserted before the end marker."""
    last = jpeg.rindex(b"\xff\xda")
    return jpeg[:-2] + jpeg[last:-2] * extra + jpeg[-2:]


def test_a_jpeg_with_too_many_scans_is_refused_before_decoding(monkeypatch):
    progressive = _encode(_photo(256, 256), "JPEG", progressive=True)
    assert load_image(_with_scans(progressive, 5)).shape == (256, 256, 3)
    from PIL import ImageFile

    decoded = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self))
    with pytest.raises(ImageError, match=f"more than {images.MAX_JPEG_SCANS} scans"):
        load_image(_with_scans(progressive, images.MAX_JPEG_SCANS))
    assert not decoded


def test_a_large_jpeg_is_decoded_at_a_reduced_size():
    data = _encode(_photo(1600, 1200), "JPEG", quality=90)
    full = open_photo(data)
    assert full.size == 1600 * 1200 and full.decode().scale == 1
    pending = open_photo(data, min_pixels=100_000)  # 1/4 of the sides keeps 120,000 pixels
    assert pending.size == 400 * 300
    photo = pending.decode()
    assert photo.pixels.shape == (300, 400, 3) and photo.scale == 4
    assert open_photo(data, min_pixels=400_000).size == 800 * 600
    assert open_photo(data, min_pixels=500_000).size == 1600 * 1200  # not 4 times as many: as it is
    png = open_photo(_encode(_photo(1600, 1200), "PNG"), min_pixels=100_000)
    assert png.size == 1600 * 1200  # decoded whole: draft mode is JPEG's ...
    photo = png.decode()
    assert photo.pixels.shape == (300, 400, 3) and photo.scale == 4  # ... then shrunk at once


def test_a_reduced_exif_rotated_photo_keeps_its_scale():
    exif = Image.Exif()
    exif[0x0112] = 6  # turned 90 degrees
    data = _encode(_photo(1600, 1200), "JPEG", exif=exif.tobytes())
    photo = open_photo(data, min_pixels=100_000).decode()
    assert photo.pixels.shape == (400, 300, 3) and photo.scale == 4


def test_a_pil_image_of_the_caller_is_not_drafted():
    image = Image.open(io.BytesIO(_encode(_photo(1600, 1200), "JPEG")))
    assert open_photo(image, min_pixels=100_000).size == 1600 * 1200
    assert image.size == (1600, 1200)


def _fuzz_seeds() -> list[bytes]:
    photo = _photo(40, 30)
    seeds = [_encode(photo, fmt) for fmt in ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP")]
    seeds.append(_encode(photo, "JPEG", progressive=True))
    seeds.append(_encode(photo.convert("RGBA"), "PNG"))
    seeds.append(LOOPING_EPS)
    for fmt in ("QOI", "DDS", "ICO"):
        try:
            seeds.append(_encode(photo, fmt))
        except (KeyError, OSError, ValueError):
            pass
    return seeds


def _mutate(data: bytes, rng: random.Random) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        kind, at = rng.random(), rng.randrange(len(data))
        if kind < 0.6:
            data[at] = rng.randrange(256)
        elif kind < 0.8:
            del data[at : at + rng.randint(1, 16)]
        else:
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    return bytes(data) if rng.random() < 0.8 else bytes(data[: rng.randrange(1, len(data) + 1)])


def test_fuzzed_files_give_an_array_or_an_image_error():
    """Seeded: 400 mutations of small files of every kind; anything but an ImageError is a bug."""
    rng = random.Random(17)
    seeds = _fuzz_seeds()
    outcomes = {"read": 0, "refused": 0}
    for _ in range(400):
        data = _mutate(rng.choice(seeds), rng)
        try:
            array = load_image(data)
        except ImageError:
            outcomes["refused"] += 1
            continue
        assert array.dtype == np.uint8 and array.ndim == 3 and array.shape[2] == 3
        outcomes["read"] += 1
    assert outcomes["read"] and outcomes["refused"]


def test_a_decoder_bug_becomes_an_image_error(monkeypatch):
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: {}["a reader's KeyError"])
    with pytest.raises(ImageError, match="damaged"):
        load_image(_encode(_photo(), "PNG"))


def test_decoding_from_threads_leaves_the_warning_filters_alone(monkeypatch):
    """``warnings.catch_warnings`` is not thread-safe: decoding must not touch the process's filters."""
    from PIL import ImageFile

    before, seen = list(warnings.filters), []
    original = ImageFile.ImageFile.load

    def spy(self):
        seen.append(list(warnings.filters))
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    data = _encode(_photo(), "PNG")
    threads = [threading.Thread(target=load_image, args=(data,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen and all(filters == before for filters in seen)
    assert warnings.filters == before
