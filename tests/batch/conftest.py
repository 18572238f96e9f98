"""A small generated corpus: astronaut photos re-encoded with small changes, cats (no face), a broken file."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data as samples


def write_corpus(root: Path, astronaut: np.ndarray, faces: int = 8) -> list[Path]:
    """``faces`` face photos in two folders, two cats, one truncated JPEG and a text file; the image paths, sorted."""
    (root / "cam1").mkdir(parents=True)
    (root / "cam2" / "night").mkdir(parents=True)
    photo = Image.fromarray(astronaut).resize((256, 256))
    for k in range(faces):
        folder = root / ("cam1" if k % 2 else "cam2")
        shifted = Image.fromarray(np.roll(np.asarray(photo), 4 * k, axis=1))
        shifted.save(folder / f"face{k:02d}.jpg", quality=70 + 2 * k)
    cat = Image.fromarray(samples.chelsea()).resize((200, 150))
    cat.save(root / "cam1" / "cat.jpg")
    cat.save(root / "cam2" / "night" / "cat.png")
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG")
    (root / "cam2" / "broken.jpg").write_bytes(buffer.getvalue()[:1500])
    (root / "cam1" / "notes.txt").write_text("not a photo")
    return sorted(p for p in root.rglob("*") if p.suffix in (".jpg", ".png"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, astronaut) -> tuple[Path, list[Path]]:
    """(folder, its image files in path order)."""
    root = tmp_path_factory.mktemp("corpus") / "photos"
    return root, write_corpus(root, astronaut)
