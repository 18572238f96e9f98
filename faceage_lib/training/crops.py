"""Turn UTKFace images into the crops the model trains on, once, and cache them.

Every image goes through the same detector and :func:`faceage_lib.inference.crop.crop_face`
that inference uses. A chip where no face is detected (about 2%) is cropped from its whole frame,
which matches the detector's box on the others (it fills about 93% of a chip).

The cache (``crops_<size>.npz``) stores the key of everything that shapes a crop (size, detector
and its version, the crop function's version and scale, the score bar); a cache made under another
key is rebuilt, never reused.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ..config import DETECTOR_MIN_SCORE
from ..errors import DatasetError
from ..inference.crop import CROP_SCALE, CROP_VERSION, crop_face
from ..inference.detectors import DEFAULT_DETECTOR, Face, FaceDetector, get_detector
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
            missing = table["hash"].to_numpy()[index < 0]
            raise DatasetError(f"{len(missing)} of {len(table)} manifest rows have no cached crop (the first: "
                               f"{missing[0]}); these crops were built for another table: call "
                               "load_or_build_crops with this table to rebuild them")
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


def cache_key(size: int, detector: FaceDetector | None = None) -> str:
    """What shapes a crop, as one string: a cache made under another key is not reused."""
    detector = detector or get_detector(DEFAULT_DETECTOR)
    return (f"size={size} detector={detector.name}:{detector.version} crop=v{CROP_VERSION} "
            f"scale={CROP_SCALE} min_score={DETECTOR_MIN_SCORE}")


def load_or_build_crops(table: pd.DataFrame, size: int, cache_dir: str | os.PathLike,
                        progress: bool = True) -> CropSet:
    """The crops for ``table`` at ``size``, from ``cache_dir/crops_<size>.npz`` if that holds
    every row under the current :func:`cache_key`, else built now (and cached)."""
    cache, key = Path(cache_dir) / f"crops_{size}.npz", cache_key(size)
    if cache.is_file():
        with np.load(cache) as stored:
            same = "key" in stored and str(stored["key"]) == key
            cached = CropSet(stored["crops"], stored["hashes"], stored["detected"]) if same else None
        if cached is not None and set(table["hash"]) <= set(cached.hashes):
            return cached
    crops, detected = build_crops(list(table["path"]), size, progress)
    result = CropSet(crops, table["hash"].to_numpy(str), detected)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, crops=result.crops, hashes=result.hashes, detected=result.detected, key=np.str_(key))
    return result


def _progress(items, enabled: bool):
    if not enabled:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc="detect + crop", unit="img")
