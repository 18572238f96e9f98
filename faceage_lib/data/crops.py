"""Turn a dataset's images into the crops the model trains on, once, and cache them (per source).

Every image goes through the same detector and :func:`faceage_lib.inference.crop.crop_face`
that inference uses. A chip where no face is detected (about 2%) is cropped from its whole frame,
which matches the detector's box on the others (it fills about 93% of a chip).

The cache (``crops_<source>_<size>.npz``) stores the key of everything that shapes a crop (size, detector
and its version, the crop function's version and scale, the score bar); a cache made under another
key is rebuilt, never reused. :func:`pack_crops` writes it as JPEGs (``crops_<source>_<size>.jpeg.npz``, about
6x smaller) to carry to another machine, e.g. a GPU box; where only the packed file is, it is
unpacked instead of detecting and cropping again.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from ..config import DETECTOR_MIN_SCORE
from ..errors import DatasetError
from ..inference.crop import CropSpec, crop_face
from ..inference.detectors import DEFAULT_DETECTOR, Face, FaceDetector, detector_class, get_detector
from ..inference.images import load_image
from ..progress import progress


@dataclass
class CropSet:
    """Face crops aligned with the rows of a manifest table."""

    crops: np.ndarray  # (N, size, size, 3) uint8
    hashes: np.ndarray  # (N,) content hashes, row order of the manifest
    detected: np.ndarray  # (N,) bool: a face was detected (else whole-frame crop)

    @classmethod
    def concat(cls, parts: list[CropSet]) -> CropSet:
        if len(parts) == 1:
            return parts[0]
        fields = ("crops", "hashes", "detected")
        return cls(*(np.concatenate([getattr(part, name) for part in parts]) for name in fields))

    def detected_rows(self, table: pd.DataFrame) -> np.ndarray:
        """Whether a face was detected on each of ``table``'s rows."""
        return pd.Series(self.detected, index=self.hashes).reindex(table["hash"]).to_numpy(bool)

    def rows(self, table: pd.DataFrame) -> np.ndarray:
        """The crops of ``table``'s rows, matched by content hash."""
        index = pd.Index(self.hashes).get_indexer(table["hash"])
        if (index < 0).any():
            missing = table["hash"].to_numpy()[index < 0]
            raise DatasetError(
                f"{len(missing)} of {len(table)} manifest rows have no cached crop (the first: "
                f"{missing[0]}); these crops were built for another table: call "
                "load_or_build_crops with this table to rebuild them"
            )
        return self.crops[index]


def build_crops(
    paths: list[str],
    crop: CropSpec | int,
    progress: bool = True,
    alter: Callable[[np.ndarray, int], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Detect and crop every image as ``crop`` says (an int: the size); returns (crops, detected flags).

    ``alter(image, index)``, if given, changes each photo before detection (e.g. a corruption).
    """
    crop = CropSpec(crop) if isinstance(crop, int) else crop
    detector = get_detector()
    crops = np.zeros((len(paths), crop.size, crop.size, 3), np.uint8)
    detected = np.zeros(len(paths), bool)
    for i, path in enumerate(_progress(paths, progress)):
        image = load_image(path)
        if alter is not None:
            image = alter(image, i)
        faces = detector.detect(image)
        face = faces[0] if faces else Face.from_box((0, 0, image.shape[1], image.shape[0]), score=0.0)
        crops[i] = crop_face(image, face, crop)
        detected[i] = bool(faces)
    return crops, detected


def cache_key(crop: CropSpec, detector: type[FaceDetector] | FaceDetector | None = None) -> str:
    """What shapes a crop, as one string: a cache made under another key is not reused."""
    detector = detector or detector_class(DEFAULT_DETECTOR)
    return f"{crop.key()} detector={detector.name}:{detector.version} min_score={DETECTOR_MIN_SCORE}"


def load_or_build_crops(
    table: pd.DataFrame, crop: CropSpec | int, cache_dir: str | os.PathLike, progress: bool = True
) -> CropSet:
    """The ``crop`` crops (an int: the size) for ``table``: per source (its ``source`` column; UTKFace if
    it has none), from ``cache_dir/crops_<source>_<size>.npz`` (``crops_<source>_<size>_template.npz``
    for template crops, so they never evict the box crops of their size; or its packed ``.jpeg.npz``) under the
    current :func:`cache_key`; the rows it lacks are built now (only those: evaluating a test split crops
    that split) and added to the cache."""
    crop = CropSpec(crop) if isinstance(crop, int) else crop
    sources = table["source"] if "source" in table else pd.Series("utkface", index=table.index)
    return CropSet.concat(
        [
            _source_crops(rows, Path(cache_dir) / f"crops_{name}_{crop.size}{crop.cache_name()}.npz", crop, progress)
            for name, rows in table.groupby(sources, sort=False)
        ]
    )


def _source_crops(table: pd.DataFrame, cache: Path, crop: CropSpec, progress: bool) -> CropSet:
    key = cache_key(crop)
    known = [
        found
        for read, path in ((_read_raw, cache), (_read_packed, packed_path(cache)))
        if path.is_file() and (found := read(path, key)) is not None
    ]
    cached = max(known, key=lambda crops: len(crops.hashes), default=None)
    have = set(cached.hashes) if cached is not None else set()
    if cached is not None and set(table["hash"]) <= have:
        return cached
    missing = table[~table["hash"].isin(have)].drop_duplicates("hash")
    crops, detected = build_crops(list(missing["path"]), crop, progress)
    result = CropSet(crops, missing["hash"].to_numpy(str), detected)
    if cached is not None:
        result = CropSet.concat([cached, result])
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, crops=result.crops, hashes=result.hashes, detected=result.detected, key=np.str_(key))
    return result


def packed_path(cache: Path) -> Path:
    return cache.with_name(cache.name.replace(".npz", ".jpeg.npz"))


def pack_crops(cache: str | os.PathLike, quality: int = 90) -> Path:
    """Write a raw cache ``crops_<source>_<size>.npz`` as JPEGs beside it (``.jpeg.npz``).

    Quality 90 with the usual colour subsampling: UTKFace's 23,318 crops at 64 px take 51 MB (the
    raw cache 286 MB), and pixels move by 2.5 grey levels on average, far less than the noise the
    training augmentation adds."""
    cache = Path(cache)
    with np.load(cache) as stored:
        crops, hashes, detected, key = stored["crops"], stored["hashes"], stored["detected"], stored["key"]
    encoded = [cv2.imencode(".jpg", crop[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])[1] for crop in crops]
    offsets = np.cumsum([0] + [len(e) for e in encoded])
    out = packed_path(cache)
    np.savez(
        out,
        jpeg=np.concatenate(encoded) if encoded else np.zeros(0, np.uint8),
        offsets=offsets,
        hashes=hashes,
        detected=detected,
        key=key,
        side=np.int64(crops.shape[1]),
    )
    return out


def _read_raw(path: Path, key: str) -> CropSet | None:
    with np.load(path) as stored:
        if "key" not in stored or str(stored["key"]) != key:
            return None
        return CropSet(stored["crops"], stored["hashes"], stored["detected"])


def _read_packed(path: Path, key: str) -> CropSet | None:
    with np.load(path) as stored:  # each array read once: indexing an NpzFile re-reads it
        if str(stored["key"]) != key:
            return None
        jpeg, offsets, hashes, detected = stored["jpeg"], stored["offsets"], stored["hashes"], stored["detected"]
    pieces = zip(offsets[:-1], offsets[1:])
    crops = np.stack([_decode(jpeg[a:b], path) for a, b in pieces]) if len(hashes) else np.zeros(0, np.uint8)
    return CropSet(np.ascontiguousarray(crops), hashes, detected)


def _decode(jpeg: np.ndarray, path: Path) -> np.ndarray:
    """One RGB crop from its JPEG bytes in a packed cache."""
    bgr = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
    if bgr is None:
        raise DatasetError(f"{path} is damaged (a crop does not decode): delete it and build the crops again")
    return bgr[:, :, ::-1]


def _progress(items, enabled: bool):
    return progress(items, desc="detect + crop") if enabled else items
