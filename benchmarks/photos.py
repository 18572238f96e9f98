"""Benchmark photos: 640x480 JPEGs with one face, made from public-domain or local material.

The astronaut (NASA, public domain, via scikit-image) is always used; with ``--data-dir``,
UTKFace test chips are also placed on 640x480 canvases (kept in a temporary folder, never
committed: UTKFace is non-commercial research data).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

SIZE = (640, 480)


def _on_canvas(face: Image.Image, seed: int) -> Image.Image:
    """The face photo scaled to ~60% of the height and placed on a blurred, noisy background."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    canvas = Image.fromarray(noise).resize(SIZE, Image.BICUBIC).filter(ImageFilter.GaussianBlur(8))
    side = int(SIZE[1] * 0.6)
    face = face.convert("RGB").resize((side, side), Image.BICUBIC)
    x = int(rng.integers(0, SIZE[0] - side))
    y = int(rng.integers(0, SIZE[1] - side))
    canvas.paste(face, (x, y))
    return canvas


def benchmark_photos(folder: Path, data_dir: str | None = None, count: int = 50) -> list[Path]:
    """Write the benchmark JPEGs into ``folder`` and return their paths."""
    from skimage import data as skdata

    folder.mkdir(parents=True, exist_ok=True)
    astronaut = Image.fromarray(skdata.astronaut())
    sources = [astronaut]
    if data_dir:
        from faceage_lib.data.utkface import load_utkface

        test = load_utkface(data_dir, folder / "work").split("test")
        sources += [Image.open(path) for path in test["path"].head(count - 1)]
    paths = []
    for index, source in enumerate(sources):
        path = folder / f"photo_{index:03d}.jpg"
        _on_canvas(source, index).save(path, quality=90)
        paths.append(path)
    return paths
