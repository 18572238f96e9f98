"""Gradio components of faceage's own: a photo input that hands the file over untouched, and outputs
that write each answer to a file of its own (or inline, for the live view)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from gradio.data_classes import FileData, ImageData
from PIL import Image

from .live import jpeg_data_url


class PhotoInput(gr.Image):
    """``gr.Image`` that hands over the uploaded file untouched.

    Decoding is left to :func:`faceage_lib.inference.images.load_image`, which handles EXIF rotation,
    every colour mode and oversized files, and turns a broken or non-image file into a clear
    message instead of an error inside Gradio.
    """

    is_template = True  # the page uses gr.Image's front end
    # No __init__ of its own: Gradio reads the component's settings from gr.Image's signature.

    def preprocess(self, payload) -> str | None:
        """The uploaded file's path, or a ``data:`` URL as it came (decoded by :func:`.uploads.read_upload`)."""
        if payload is None:
            return None
        if payload.path:
            return payload.path
        if payload.url and payload.url.startswith("data:"):
            return payload.url
        return None


class AnnotatedImage(gr.Image):
    """``gr.Image`` output that writes each annotated photo to a file of its own.

    ``gr.Image`` names its cache file by the picture's content, so two requests with the same
    photo rewrite one file while it is being sent and a download comes back truncated. Here
    every answer gets a new file (see :func:`_write_to_cache`).
    """

    is_template = True  # the page uses gr.Image's front end

    def postprocess(self, value: np.ndarray | None):  # type: ignore[override]  # an output of arrays only
        if value is None:
            return None
        path = _write_to_cache(
            self, "faces.jpg", lambda out: Image.fromarray(value).save(out, format="JPEG", quality=90)
        )
        return ImageData(path=str(path), orig_name=path.name)


class LiveImage(gr.Image):
    """``gr.Image`` output for the live view: each frame is sent inline as a JPEG ``data:`` URL,
    so that a stream leaves no file per frame on the server."""

    is_template = True  # the page uses gr.Image's front end

    def postprocess(self, value: np.ndarray | None):  # type: ignore[override]  # an output of arrays only
        return None if value is None else ImageData(url=jpeg_data_url(value), orig_name="live.jpg")


class CsvFile(gr.File):
    """``gr.File`` output that takes CSV text and serves it as a file of its own (``faces.csv``)."""

    is_template = True  # the page uses gr.File's front end

    def postprocess(self, value: str | None):  # type: ignore[override]  # CSV text, not a path
        if value is None:
            return None
        path = _write_to_cache(self, "faces.csv", lambda out: out.write_text(value, encoding="utf-8"))
        return FileData(path=str(path), orig_name=path.name, size=path.stat().st_size)


def _write_to_cache(component: gr.components.Component, name: str, write: Callable[[Path], Any]) -> Path:
    """A new file ``name`` in a folder of its own in Gradio's cache, written in full under a
    temporary name and then renamed, and deleted with the rest of the cache (``delete_cache``)."""
    folder = Path(component.GRADIO_CACHE) / uuid.uuid4().hex
    folder.mkdir(parents=True)
    path, partial = folder / name, folder / f".{name}.partial"
    write(partial)
    os.replace(partial, path)
    component.temp_files.add(str(path))
    return path
