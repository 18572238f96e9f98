"""faceage_lib.inference.images: every input a user can hand over becomes an RGB uint8 array or an ImageError."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageOps

from faceage_lib.errors import FaceAgeError, ImageError
from faceage_lib.inference import images
from faceage_lib.inference.images import load_image


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _quadrants(width: int = 40, height: int = 20) -> Image.Image:
    """Four flat colours: red top-left, green top-right, blue bottom-left, white bottom-right."""
    array = np.zeros((height, width, 3), np.uint8)
    array[: height // 2, : width // 2] = (255, 0, 0)
    array[: height // 2, width // 2 :] = (0, 255, 0)
    array[height // 2 :, : width // 2] = (0, 0, 255)
    array[height // 2 :, width // 2 :] = (255, 255, 255)
    return Image.fromarray(array)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels but holds (almost) no data."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def _assert_rgb(array: np.ndarray, shape: tuple[int, int]) -> None:
    assert array.dtype == np.uint8
    assert array.shape == (*shape, 3)
    assert array.flags["C_CONTIGUOUS"]


# --------------------------------------------------------------------------- bad input


def test_image_error_is_a_faceage_error_and_a_value_error():
    assert issubclass(ImageError, FaceAgeError)
    assert issubclass(ImageError, ValueError)


def test_non_image_file(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a photo")
    with pytest.raises(ImageError, match="not an image file") as caught:
        load_image(path)
    assert str(path) in str(caught.value)


def test_truncated_jpeg(tmp_path):
    data = _encode(_quadrants(200, 200), "JPEG", quality=95)
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="damaged or truncated"):
        load_image(path)
    with pytest.raises(ImageError, match="damaged or truncated"):
        load_image(data[: len(data) // 2])


def test_empty_bytes():
    with pytest.raises(ImageError, match="uploaded data is not an image file"):
        load_image(b"")
    with pytest.raises(ImageError, match="not an image file"):
        load_image(bytearray())


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageError, match="not an image file"):
        load_image(path)


def test_missing_path(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "nowhere.jpg")
    with pytest.raises(ImageError, match="no such file"):
        load_image(str(tmp_path / "nowhere.jpg"))


def test_folder_is_not_an_image(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path)


def test_unsupported_type():
    with pytest.raises(ImageError, match="cannot read an image from a int"):
        load_image(42)
    with pytest.raises(ImageError, match="from a list"):
        load_image([[0, 0], [0, 0]])


def test_decompression_bomb_header_is_refused_without_decoding(tmp_path):
    """A 40-byte PNG claiming 50000 x 50000 pixels (2.5 gigapixels)."""
    bomb = _png_header_only(50_000, 50_000)
    assert len(bomb) < 100
    with pytest.raises(ImageError, match="too large|limit"):
        load_image(bomb)
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb)
    with pytest.raises(ImageError, match="too large|limit"):
        load_image(path)


def test_image_above_max_pixels_is_refused(monkeypatch, tmp_path):
    monkeypatch.setattr(images, "MAX_PIXELS", 50 * 50)
    big = _encode(Image.new("RGB", (60, 60), (10, 20, 30)), "PNG")
    with pytest.raises(ImageError, match="60x60 pixels"):
        load_image(big)
    path = tmp_path / "big.png"
    path.write_bytes(big)
    with pytest.raises(ImageError, match="60x60 pixels"):
        load_image(path)
    with pytest.raises(ImageError, match="60x60 pixels"):
        load_image(Image.new("RGB", (60, 60)))
    with pytest.raises(ImageError, match="60x60 pixels"):
        load_image(np.zeros((60, 60, 3), np.uint8))
    # at the limit it still opens
    assert load_image(_encode(Image.new("RGB", (50, 50)), "PNG")).shape == (50, 50, 3)


def test_header_check_happens_before_decoding(monkeypatch):
    """The size is refused from the header: the pixel data is never decoded."""
    from PIL import ImageFile

    data = _encode(Image.new("RGB", (20, 20)), "PNG")
    monkeypatch.setattr(images, "MAX_PIXELS", 100)
    decoded = []
    original = ImageFile.ImageFile.load

    def spy(self):
        decoded.append(self)
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    with pytest.raises(ImageError, match="limit"):
        load_image(data)
    assert decoded == []
    monkeypatch.setattr(images, "MAX_PIXELS", 1000)
    load_image(data)  # the check itself: under the limit, the file is decoded
    assert decoded


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_arrays(value):
    array = np.full((8, 8, 3), 0.5)
    array[3, 4, 1] = value
    with pytest.raises(ImageError, match="NaN or infinite"):
        load_image(array)


@pytest.mark.parametrize("shape", [(10,), (10, 10, 2), (10, 10, 5), (2, 10, 10, 3), ()])
def test_wrong_array_shapes(shape):
    with pytest.raises(ImageError, match="must be HxW, HxWx3 or HxWx4"):
        load_image(np.zeros(shape, np.uint8))


def test_empty_array():
    with pytest.raises(ImageError, match="no pixels"):
        load_image(np.zeros((0, 5, 3), np.uint8))


def test_unsupported_array_dtype():
    with pytest.raises(ImageError, match="unsupported image array type"):
        load_image(np.zeros((4, 4, 3), np.complex64))


# --------------------------------------------------------------------------- sources and conversions


def test_rgb_from_every_source_kind(tmp_path):
    picture = _quadrants()
    expected = np.asarray(picture)
    path = tmp_path / "q.png"
    picture.save(path)
    for source in (path, str(path), path.read_bytes(), bytearray(path.read_bytes()), picture, expected):
        result = load_image(source)
        _assert_rgb(result, (20, 40))
        np.testing.assert_array_equal(result, expected)


def test_array_input_is_not_modified_and_not_shared():
    array = np.asarray(_quadrants()).copy()
    original = array.copy()
    result = load_image(array)
    result[:] = 0
    np.testing.assert_array_equal(array, original)


def test_grayscale_l_mode():
    gray = Image.fromarray(np.array([[0, 100], [200, 255]], np.uint8), "L")
    result = load_image(_encode(gray, "PNG"))
    _assert_rgb(result, (2, 2))
    np.testing.assert_array_equal(result[:, :, 0], [[0, 100], [200, 255]])
    np.testing.assert_array_equal(result[:, :, 0], result[:, :, 1])
    np.testing.assert_array_equal(result[:, :, 0], result[:, :, 2])


def test_grayscale_arrays_2d_and_hxwx1():
    gray = np.array([[0, 100], [200, 255]], np.uint8)
    for array in (gray, gray[:, :, None]):
        result = load_image(array)
        _assert_rgb(result, (2, 2))
        np.testing.assert_array_equal(result[:, :, 2], gray)


def test_rgba_transparent_becomes_white():
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (200, 10, 10, 255)  # opaque red
    rgba[0, 1] = (200, 10, 10, 0)  # fully transparent
    rgba[1, 0] = (0, 0, 0, 128)  # half-transparent black -> mid grey
    rgba[1, 1] = (0, 0, 255, 0)
    for source in (_encode(Image.fromarray(rgba, "RGBA"), "PNG"), rgba):
        result = load_image(source)
        _assert_rgb(result, (2, 2))
        np.testing.assert_array_equal(result[0, 0], (200, 10, 10))
        np.testing.assert_array_equal(result[0, 1], (255, 255, 255))
        np.testing.assert_array_equal(result[1, 1], (255, 255, 255))
        assert np.all(np.abs(result[1, 0].astype(int) - 127) <= 1)


def test_la_mode_transparent_becomes_white():
    la = Image.merge("LA", (Image.new("L", (2, 1), 30), Image.fromarray(np.array([[255, 0]], np.uint8))))
    result = load_image(_encode(la, "PNG"))
    np.testing.assert_array_equal(result[0], [[30, 30, 30], [255, 255, 255]])


def test_palette_with_transparency():
    palette = Image.new("P", (3, 1))
    palette.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 0] + [0] * (256 * 3 - 9))
    palette.putdata([0, 1, 2])
    palette.info["transparency"] = 2  # index 2 (black) is transparent
    data = _encode(palette, "PNG", transparency=2)
    assert Image.open(io.BytesIO(data)).mode == "P"
    result = load_image(data)
    np.testing.assert_array_equal(result[0], [[255, 0, 0], [0, 255, 0], [255, 255, 255]])
    gif = load_image(_encode(palette, "GIF", transparency=2))
    np.testing.assert_array_equal(gif[0], [[255, 0, 0], [0, 255, 0], [255, 255, 255]])


def test_palette_without_transparency():
    palette = Image.new("P", (2, 1))
    palette.putpalette([10, 20, 30, 40, 50, 60] + [0] * (256 * 3 - 6))
    palette.putdata([0, 1])
    np.testing.assert_array_equal(load_image(palette)[0], [[10, 20, 30], [40, 50, 60]])


def test_16_bit_grayscale():
    values = np.array([[0, 257 * 100], [257 * 200, 65535]], np.uint16)
    image = Image.fromarray(values)
    assert image.mode == "I;16"
    data = _encode(image, "PNG")
    assert Image.open(io.BytesIO(data)).mode in ("I;16", "I")
    for source in (image, data, values):
        result = load_image(source)
        _assert_rgb(result, (2, 2))
        np.testing.assert_array_equal(result[:, :, 0], [[0, 100], [200, 255]])
        np.testing.assert_array_equal(result[:, :, 1], result[:, :, 0])


def test_cmyk():
    cmyk = Image.new("CMYK", (2, 1))
    cmyk.putpixel((0, 0), (0, 0, 0, 0))  # white
    cmyk.putpixel((1, 0), (255, 0, 0, 0))  # cyan
    result = load_image(cmyk)
    np.testing.assert_array_equal(result[0], [[255, 255, 255], [0, 255, 255]])
    jpeg = load_image(_encode(Image.new("CMYK", (16, 16), (255, 0, 0, 0)), "JPEG", quality=100))
    _assert_rgb(jpeg, (16, 16))
    assert np.all(np.abs(jpeg.astype(int) - (0, 255, 255)) <= 3)


def test_float_arrays_in_0_1():
    array = np.array([[[0.0, 0.5, 1.0]]], np.float32)
    np.testing.assert_array_equal(load_image(array)[0, 0], (0, 128, 255))
    np.testing.assert_array_equal(load_image(array.astype(np.float64))[0, 0], (0, 128, 255))


def test_float_arrays_in_0_255_and_out_of_range():
    np.testing.assert_array_equal(load_image(np.array([[[0.0, 127.6, 255.0]]]))[0, 0], (0, 128, 255))
    np.testing.assert_array_equal(load_image(np.array([[[-3.0, 40.0, 300.0]]]))[0, 0], (0, 40, 255))


def test_integer_and_bool_arrays():
    np.testing.assert_array_equal(load_image(np.array([[[-5, 100, 999]]], np.int64))[0, 0], (0, 100, 255))
    np.testing.assert_array_equal(load_image(np.array([[[0, 257 * 128, 65535]]], np.uint16))[0, 0], (0, 128, 255))
    mask = np.array([[True, False]])
    np.testing.assert_array_equal(load_image(mask)[0], [[255, 255, 255], [0, 0, 0]])


def test_float_rgba_array():
    array = np.zeros((1, 2, 4), np.float32)
    array[0, 0] = (1.0, 0.0, 0.0, 1.0)
    array[0, 1] = (1.0, 0.0, 0.0, 0.0)
    np.testing.assert_array_equal(load_image(array)[0], [[255, 0, 0], [255, 255, 255]])


def _with_orientation(image: Image.Image, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _encode(image, "JPEG", quality=95, exif=exif.tobytes())


def test_exif_orientation_6_is_rotated_upright(tmp_path):
    """Orientation 6: the camera was turned; the stored 40x20 picture is shown rotated 90 degrees clockwise."""
    data = _with_orientation(_quadrants(40, 20), 6)
    assert Image.open(io.BytesIO(data)).getexif()[0x0112] == 6
    path = tmp_path / "turned.jpg"
    path.write_bytes(data)
    for source in (path, data, Image.open(io.BytesIO(data))):
        result = load_image(source)
        _assert_rgb(result, (40, 20))  # height 40, width 20
        # after a clockwise quarter turn: blue top-left, red top-right, white bottom-left, green bottom-right
        corners = {
            "top-left": result[5, 5],
            "top-right": result[5, 15],
            "bottom-left": result[35, 5],
            "bottom-right": result[35, 15],
        }
        expected = {
            "top-left": (0, 0, 255),
            "top-right": (255, 0, 0),
            "bottom-left": (255, 255, 255),
            "bottom-right": (0, 255, 0),
        }
        for corner, colour in expected.items():
            assert np.all(np.abs(corners[corner].astype(int) - colour) <= 40), (corner, corners[corner])


@pytest.mark.parametrize("orientation, shape", [(1, (20, 40)), (3, (20, 40)), (8, (40, 20))])
def test_other_exif_orientations(orientation, shape):
    result = load_image(_with_orientation(_quadrants(40, 20), orientation))
    assert result.shape == (*shape, 3)
    top_left = result[5, 5].astype(int)
    expected = {1: (255, 0, 0), 3: (255, 255, 255), 8: (0, 255, 0)}[orientation]
    assert np.all(np.abs(top_left - expected) <= 40)


def test_broken_exif_does_not_lose_the_photo(monkeypatch):
    def broken(image):
        raise SyntaxError("bad EXIF")

    monkeypatch.setattr(ImageOps, "exif_transpose", broken)
    result = load_image(_with_orientation(_quadrants(40, 20), 6))
    assert result.shape == (20, 40, 3)


def test_image_extensions_are_lowercase_with_dot():
    assert {".jpg", ".jpeg", ".png"} <= images.IMAGE_EXTENSIONS
    assert all(ext.startswith(".") and ext == ext.lower() for ext in images.IMAGE_EXTENSIONS)


# --------------------------------------------------------------------- issue 10: strips, lazy PIL images, 16-bit arrays


def test_extreme_strip_is_refused_from_its_header():
    """A 62 KB PNG of 64,000,000 x 1 pixels kept the detector busy for minutes: refused at once."""
    with pytest.raises(ImageError, match=r"64000000x1 pixels, a strip rather than a photo.*20:1"):
        load_image(_png_header_only(64_000_000, 1))
    with pytest.raises(ImageError, match="a strip"):
        load_image(np.zeros((10, 1_000, 3), np.uint8))
    assert load_image(np.zeros((10, 200, 3), np.uint8)).shape == (10, 200, 3)  # 20:1 still opens


def test_truncated_lazy_pil_image_raises_image_error():
    """``Image.open`` only reads the header; the truncated data fails later, inside load_image."""
    data = _encode(_quadrants(200, 200), "JPEG", quality=95)
    lazy = Image.open(io.BytesIO(data[: len(data) // 2]))
    with pytest.raises(ImageError, match="damaged or truncated"):
        load_image(lazy)


def test_uint16_array_of_8_bit_values_keeps_them():
    """8-bit data in a uint16 array (as some readers return it) is not divided by 257 into black."""
    values = np.array([[[0, 100, 255]]], np.uint16)
    np.testing.assert_array_equal(load_image(values)[0, 0], (0, 100, 255))


# --------------------------------------------------------------------- issue 18: plain JPEGs decoded by OpenCV


def _photo_like(width: int, height: int, seed: int = 0) -> Image.Image:
    """Smooth colour gradients and noise: a JPEG of it uses every DCT frequency and both chroma planes."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    base = np.stack([xs * 255 / width, ys * 255 / height, (xs + ys) * 127 / (width + height)], 2)
    return Image.fromarray(np.clip(base + rng.normal(0, 25, base.shape), 0, 255).astype(np.uint8))


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


PLAIN_JPEGS = {
    "4:2:0": {"quality": 90},
    "4:2:2": {"quality": 85, "subsampling": 1},
    "4:4:4": {"quality": 95, "subsampling": 0},
    "progressive": {"quality": 80, "progressive": True},
    "optimized": {"quality": 75, "optimize": True},
    "empty EXIF": {"quality": 90, "exif": Image.Exif().tobytes()},
    "orientation 1": {"quality": 90, "exif": _exif(1)},
}


@pytest.mark.parametrize("options", PLAIN_JPEGS.values(), ids=PLAIN_JPEGS.keys())
@pytest.mark.parametrize("size", [(640, 480), (333, 251)])
def test_plain_jpeg_is_decoded_by_opencv_to_pillows_pixels(monkeypatch, options, size):
    data = _encode(_photo_like(*size), "JPEG", **options)
    fast = images.open_photo(data, 12_000_000)
    assert images._plain_jpeg(data, "photo", 12_000_000) is not None  # OpenCV's path is taken
    monkeypatch.setattr(images, "_CV_RGB", None)  # Pillow's path
    slow = images.open_photo(data, 12_000_000)
    np.testing.assert_array_equal(fast.decode().pixels, slow.decode().pixels)
    _assert_rgb(fast.decode().pixels, size[::-1])


@pytest.mark.parametrize("asset", ["astronaut.jpg", "group.jpg", "cameraman.jpg"])
def test_shipped_photos_decode_the_same_either_way(monkeypatch, asset):
    from faceage_lib.config import assets_dir

    data = (assets_dir() / asset).read_bytes()
    fast = load_image(data)
    monkeypatch.setattr(images, "_CV_RGB", None)
    np.testing.assert_array_equal(fast, load_image(data))


def _with_segment(data: bytes, marker: int, payload: bytes) -> bytes:
    """``data`` (a JPEG) with one more segment right after its start marker."""
    return data[:2] + bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload + data[2:]


@pytest.mark.filterwarnings("ignore::UserWarning")  # the stand-in MPO index, which Pillow reads as a JPEG
def test_jpegs_opencv_leaves_to_pillow(monkeypatch):
    """Turned (by EXIF or XMP), grayscale, CMYK, an MPO, Adobe's colour transform, not ending where a
    JPEG ends, or drafted: Pillow decodes them, and the photo is what Pillow alone makes of it."""
    colour = _photo_like(64, 48)
    plain = _encode(colour, "JPEG")
    xmp = b'http://ns.adobe.com/xap/1.0/\x00<rdf:Description tiff:Orientation="6"/>'
    others = {
        "EXIF orientation 6": _with_orientation(colour, 6),
        "XMP orientation 6": _with_segment(plain, 0xE1, xmp),
        "two EXIF blocks": _with_segment(_encode(colour, "JPEG", exif=_exif(1)), 0xE1, _exif(3)),
        "grayscale": _encode(colour.convert("L"), "JPEG"),
        "CMYK": _encode(colour.convert("CMYK"), "JPEG"),
        "MPO": _with_segment(plain, 0xE2, b"MPF\x00MM\x00*\x00\x00\x00\x08"),
        "Adobe": _with_segment(plain, 0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x01"),
        "trailing bytes": plain + b"trailing bytes",
    }
    for name, data in others.items():
        assert images._plain_jpeg(data, "photo", 12_000_000) is None, name
    assert images._plain_jpeg(plain, "photo", 64 * 48 // 5) is None  # decoded at a reduced size
    pixels = {name: load_image(data) for name, data in others.items()}
    assert pixels["XMP orientation 6"].shape == (64, 48, 3)  # turned upright
    monkeypatch.setattr(images, "_CV_RGB", None)
    for name, data in others.items():
        np.testing.assert_array_equal(pixels[name], load_image(data), err_msg=name)


def test_cut_jpeg_given_an_end_marker_decodes_as_pillow_decodes_it(monkeypatch):
    """Cut short but ending as a JPEG ends: both decoders fill the rest in grey, alike."""
    cut = _encode(_photo_like(200, 200), "JPEG")
    data = cut[: len(cut) // 2] + images.JPEG_END
    fast = load_image(data)
    monkeypatch.setattr(images, "_CV_RGB", None)
    np.testing.assert_array_equal(fast, load_image(data))


def test_a_failure_of_opencvs_decoder_is_an_image_error_too(monkeypatch):
    data = _encode(_photo_like(64, 48), "JPEG")

    def out_of_memory(*args):
        raise MemoryError

    monkeypatch.setattr(images.cv2, "imdecode", out_of_memory)
    with pytest.raises(ImageError, match="more memory"):
        load_image(data)
