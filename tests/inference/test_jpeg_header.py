"""Reading a JPEG's size from its markers without Pillow: the plain colour JPEGs, and nothing else."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from faceage_lib.inference.jpeg_header import plain_jpeg_size


def _jpeg(width: int, height: int, **options) -> bytes:
    rng = np.random.default_rng(width * height)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(buffer, "JPEG", **options)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "options", [{}, {"progressive": True}, {"subsampling": 0}, {"optimize": True}, {"comment": b"made here"}]
)
@pytest.mark.parametrize("size", [(640, 480), (1, 1), (333, 2001)])
def test_the_size_of_a_plain_jpeg_is_read_from_its_frame(size, options):
    assert plain_jpeg_size(_jpeg(*size, **options)) == size


def test_fill_bytes_before_a_marker_are_skipped():
    data = _jpeg(32, 24)
    assert plain_jpeg_size(data[:2] + b"\xff\xff\xff" + data[2:]) == (32, 24)


def test_what_is_not_a_plain_colour_jpeg_gets_no_size():
    colour = _jpeg(32, 24)
    gray = io.BytesIO()
    Image.new("L", (32, 24)).save(gray, "JPEG")
    png = io.BytesIO()
    Image.new("RGB", (32, 24)).save(png, "PNG")
    frame = colour.index(b"\xff\xc0")
    lossless = colour[:frame] + b"\xff\xc3" + colour[frame + 2 :]
    twelve_bit = colour[: frame + 4] + b"\x0c" + colour[frame + 5 :]
    no_height = colour[: frame + 5] + b"\x00\x00" + colour[frame + 7 :]
    for data in [gray.getvalue(), png.getvalue(), lossless, twelve_bit, no_height, b"", b"\xff\xd8", b"\xff\xd8\x00"]:
        assert plain_jpeg_size(data) is None


def test_no_cut_or_mutated_header_raises():
    """Every prefix of a JPEG's header, and 2,000 seeded mutations of it, give a size or ``None``."""
    data = _jpeg(40, 30, exif=Image.Exif().tobytes())
    scan = data.index(b"\xff\xda")
    for end in range(scan + 4):
        assert plain_jpeg_size(data[:end]) is None
    rng = np.random.default_rng(0)
    for _ in range(2000):
        mutated = bytearray(data)
        for at in rng.integers(2, scan + 4, size=rng.integers(1, 4)):
            mutated[at] = int(rng.integers(0, 256))
        size = plain_jpeg_size(bytes(mutated))
        assert size is None or (isinstance(size, tuple) and min(size) > 0)
