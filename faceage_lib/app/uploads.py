"""Uploads: the photo a user sends, however it arrives (a file, a path or a ``data:`` URL), read as
bytes and refused over the size limit before anything is decoded; and how long Gradio's cache keeps it."""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path
from typing import Any

from ..errors import ImageError

#: The largest photo accepted, however it arrives (upload, path or data: URL), in bytes.
MAX_FILE_SIZE = 25 * 1024 * 1024
#: Gradio's cache (uploads, annotated photos): checked every CACHE_CHECK_S, files older than
#: CACHE_MAX_AGE_S deleted, so none is kept longer than their sum (an hour).
CACHE_CHECK_S, CACHE_MAX_AGE_S = 600, 3000


def read_upload(image: Any) -> Any:
    """The bytes of a ``data:`` URL or of a file given by path (so that messages say "the uploaded
    data", not a temp path), refused over :data:`MAX_FILE_SIZE` before anything is decoded."""
    if isinstance(image, str) and image.startswith("data:"):
        return _decode_data_url(image)
    if isinstance(image, (str, os.PathLike)) and Path(image).is_file():
        try:
            _check_size(Path(image).stat().st_size)
            return Path(image).read_bytes()
        except OSError:
            raise ImageError("the uploaded file could not be read; please upload it again") from None
    return image


def _decode_data_url(url: str) -> bytes:
    """The bytes of a base64 ``data:`` URL; its length is checked first, so a huge one costs nothing."""
    header, _, encoded = url.partition(",")
    _check_size(len(encoded) // 4 * 3)  # what the base64 text decodes to, near enough
    if not header.endswith(";base64"):
        raise ImageError("the uploaded data is not a base64 data: URL")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ImageError("the uploaded data is not valid base64") from None


def _check_size(size: int) -> None:
    if size > MAX_FILE_SIZE:
        raise ImageError(f"the photo is {size / 2**20:.0f} MB, more than the {MAX_FILE_SIZE // 2**20} MB limit")
