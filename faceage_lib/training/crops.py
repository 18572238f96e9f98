"""Turn UTKFace images into the crops the model trains on, once, and cache them.

Every image goes through the same detector and :func:`faceage_lib.inference.crop.crop_face`
that inference uses. A chip where no face is detected (about 2%) is cropped from its whole frame,
which matches the detector's box on the others (it fills about 93% of a chip).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ..inference.crop import crop_face
from ..inference.detectors import Face, get_detector
from ..inference.images import load_image


@dataclass
class CropSet:
    """Face crops aligned with the rows of a manifest table."""

    crops: np.ndarray  # (N, size, size, 3) uint8
    hashes: np.ndarray  # (N,) content hashes, row order of the manifest
    detected: np.ndarray  # (N,) bool: a face was detected (else whole-frame crop)

    def rows(self, table: pd.DataFrame) -> np.ndarray:
        """The crops of ``table``'s rows, matched by content hash."""
        index = pd.Index(self.hashes).get_indexer(table["hash"])
        if (index < 0).any():
            raise KeyError("some manifest rows have no cached crop; rebuild the cache")
        return self.crops[index]


def build_crops(paths: list[str], size: int, progress: bool = True,
                alter: Callable[[np.ndarray, int], np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Detect and crop every image; returns (crops, detected flags).

    ``alter(image, index)``, if given, changes each photo before detection (e.g. a corruption).
    """
    detector = get_detector()
    crops = np.zeros((len(paths), size, size, 3), np.uint8)
    detected = np.zeros(len(paths), bool)
    for i, path in enumerate(_progress(paths, progress)):
        image = load_image(path)
        if alter is not None:
            image = alter(image, i)
        faces = detector.detect(image)
        face = faces[0] if faces else Face.from_box((0, 0, image.shape[1], image.shape[0]), score=0.0)
        crops[i] = crop_face(image, face, size)
        detected[i] = bool(faces)
    return crops, detected


def load_or_build_crops(table: pd.DataFrame, size: int, cache_dir: str | os.PathLike,
                        progress: bool = True) -> CropSet:
    """The crops for ``table`` at ``size``, from ``cache_dir/crops_<size>.npz`` or built now."""
    cache = Path(cache_dir) / f"crops_{size}.npz"
    if cache.is_file():
        with np.load(cache) as stored:
            cached = CropSet(stored["crops"], stored["hashes"], stored["detected"])
        if set(table["hash"]) <= set(cached.hashes):
            return cached
    crops, detected = build_crops(list(table["path"]), size, progress)
    result = CropSet(crops, table["hash"].to_numpy(str), detected)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, crops=result.crops, hashes=result.hashes, detected=result.detected)
    return result


def _progress(items, enabled: bool):
    if not enabled:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc="detect + crop", unit="img")
