"""A labelled dataset as one table, and what every source shares: de-duplication, the split, and
the split manifest that is read back while the source's files are unchanged.

A table has one row per distinct image: ``path``, ``file``, ``age``, ``gender`` (0 male, 1 female,
missing where the source does not say), ``race`` (missing where unknown), ``hash`` (of the
content), ``split`` ("train", "val" or "test") and ``source`` (the dataset's name).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..config import age_group
from ..errors import DatasetError

SPLIT_FRACTIONS = {"test": 0.2, "val": 0.1}  # the rest is "train"
#: Strata with fewer images than this are pooled for the split (per-stratum rounding would give them no val).
MIN_STRATUM = 20
SPLITS = ("train", "val", "test")
#: A scan: (table without ``split`` and ``source``, number of image files, skipped (file, reason)).
Scan = tuple[pd.DataFrame, int, list[tuple[str, str]]]


@dataclass
class Dataset:
    """The labelled, de-duplicated images of one source and how they were obtained."""

    name: str
    root: Path
    table: pd.DataFrame
    files: int
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)
    duplicates_removed: int = 0
    manifest: Path | None = None
    #: Each image is a face chip (UTKFace): a chip where no face is detected is cropped whole.
    #: Else (photos) such an image has no usable crop.
    chips: bool = False

    def split(self, name: str) -> pd.DataFrame:
        """The rows of one split: "train", "val" or "test"."""
        return self.table[self.table["split"] == name].reset_index(drop=True)

    def train_val(self, limit: int | None = None, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The train and val rows a training run uses; a ``limit`` (a quick try) samples that many
        train rows and keeps a quarter as many val rows."""
        train_rows, val_rows = self.split("train"), self.split("val")
        if train_rows.empty or val_rows.empty:  # else Keras fails later with an obscure error
            raise DatasetError(f"{self.root}: {len(self.table)} images are too few for a train and a val split")
        if limit:
            train_rows = train_rows.sample(min(limit, len(train_rows)), random_state=seed)
            val_rows = val_rows.head(max(1, limit // 4))
        return train_rows, val_rows

    def summary(self) -> dict:
        """What was found, as a JSON-friendly dict (used by ``faceage data``)."""
        counts = self.table["split"].value_counts()
        return {
            "name": self.name,
            "root": str(self.root),
            "files": self.files,
            "labelled": len(self.table) + self.duplicates_removed,
            "unique_images": len(self.table),
            "with_gender": int(self.table["gender"].notna().sum()),
            "skipped": [{"file": f, "reason": r} for f, r in self.skipped],
            "duplicates_removed": self.duplicates_removed,
            "split": {s: int(counts.get(s, 0)) for s in SPLITS},
            "manifest": str(self.manifest) if self.manifest else None,
        }


def cached_dataset(
    name: str,
    root: Path,
    work: Path,
    fingerprint: str,
    scan: Callable[[], Scan],
    split: Callable[[pd.DataFrame], pd.Series],
    chips: bool = False,
) -> Dataset:
    """The dataset from its manifest in ``work`` if ``fingerprint`` matches, else ``scan()``-ed,
    de-duplicated, ``split``, and its manifest written (``chips``: see :attr:`Dataset.chips`)."""
    csv_path, info_path = work / f"{name}_split.csv", work / f"{name}_split.json"
    info = _read_info(info_path)
    if info.get("fingerprint") == fingerprint and csv_path.is_file():
        skipped = [(str(file), str(reason)) for file, reason in info["skipped"]]
        return Dataset(
            name, root, read_manifest(csv_path), info["files"], skipped, info["duplicates_removed"], csv_path, chips
        )
    table, files, skipped = scan()
    if table.empty:
        raise DatasetError(f"{root} holds no labelled images for {name}")
    table, duplicates = drop_duplicates(table)
    table["split"] = split(table)
    table["source"] = name
    manifest = write_manifest(table, csv_path)
    info_path.write_text(
        json.dumps(
            {
                "fingerprint": fingerprint,
                "root": str(root),
                "files": files,
                "skipped": skipped,
                "duplicates_removed": duplicates,
            },
            indent=1,
        )
        + "\n"
    )
    return Dataset(name, root, table, files, skipped, duplicates, manifest, chips)


def content_hash(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def drop_duplicates(table: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Keep one row per distinct image content (the first by file name)."""
    unique = table.sort_values("file").drop_duplicates("hash", keep="first")
    return unique.sort_values("file").reset_index(drop=True), len(table) - len(unique)


def assign_splits(table: pd.DataFrame, seed: int = 0) -> pd.Series:
    """Deterministic split stratified by age group and gender.

    Within each (age group, gender) stratum, images are ordered by a seeded hash of their
    content; the first 20% go to test, the next 10% to val, the rest to train. Strata too small
    to hold a val image (under :data:`MIN_STRATUM` images; none in UTKFace) are split as one pool.
    """
    order_key = table["hash"].map(lambda h: hashlib.sha1(f"{seed}:{h}".encode()).hexdigest())
    strata = pd.Series(age_group(table["age"]), index=table.index) + "/" + table["gender"].astype(str)
    sizes = strata.map(strata.value_counts())
    strata[sizes < MIN_STRATUM] = "small strata"
    split = pd.Series("train", index=table.index, dtype=str)
    for _, members in order_key.groupby(strata):
        ranked = members.sort_values().index
        n_test = int(round(len(ranked) * SPLIT_FRACTIONS["test"]))
        n_val = int(round(len(ranked) * SPLIT_FRACTIONS["val"]))
        split[ranked[:n_test]] = "test"
        split[ranked[n_test : n_test + n_val]] = "val"
    return split


def files_fingerprint(root: Path, paths: list[Path], seed: int = 0) -> str:
    """A digest of the files' names, sizes and modification times (and the split's seed)."""
    digest = hashlib.sha1(f"{root.resolve()}|seed={seed}".encode())
    for path in sorted(paths):
        stat = path.stat()
        digest.update(f"|{path.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def _read_info(path: Path) -> dict:
    try:
        info = json.loads(path.read_text())
        return info if isinstance(info, dict) and {"files", "skipped", "duplicates_removed"} <= set(info) else {}
    except (OSError, ValueError):
        return {}


def write_manifest(table: pd.DataFrame, path: Path) -> Path:
    """Write the split manifest CSV (one row per unique image)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False)
    return path


def read_manifest(path: str | os.PathLike) -> pd.DataFrame:
    """Read a manifest written by :func:`write_manifest`."""
    table = pd.read_csv(path, dtype={"hash": str})
    for column in ("gender", "race"):
        table[column] = table[column].astype("Int64")
    return table
