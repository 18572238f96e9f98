"""UTKFace's labels: parse them from file names, de-duplicate, split, keep the split manifest.

The split is a pure function of the images' content: the same files always give the same
train / val / test assignment, whatever their order on disk or their folder. The manifest is
read back while the folder is unchanged (same names, sizes and times), so images are hashed once.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..config import MAX_AGE, RACES, UNKNOWN_GENDER, age_group, cache_home
from ..errors import DatasetError
from .download import IMAGE_SUFFIXES, find_images_folder, resolve_dataset

SPLIT_FRACTIONS = {"test": 0.2, "val": 0.1}  # the rest is "train"
#: Strata with fewer images than this are pooled for the split (per-stratum rounding would give them no val).
MIN_STRATUM = 20
MANIFEST_CSV, MANIFEST_INFO = "utkface_split.csv", "utkface_split.json"

_NAME = re.compile(r"^(?P<age>\d+)_(?P<gender>\d+)_(?:(?P<race>\d)_)?(?P<stamp>\d+)")


# --------------------------------------------------------------------------- labels


def parse_name(name: str) -> tuple[int, int, int | None]:
    """Parse ``age_gender_race_datetime.jpg.chip.jpg`` into (age, gender, race or None).

    Raises ``ValueError`` with the reason when the name carries no usable age and gender.
    The race field is optional: a few real UTKFace names lack it.
    """
    match = _NAME.match(name)
    if not match and name.split("_")[1:2] == [UNKNOWN_GENDER]:
        raise ValueError("gender unknown (feedback given without a gender)")
    if not match:
        raise ValueError("name does not start with age_gender_")
    age, gender = int(match["age"]), int(match["gender"])
    if not 1 <= age <= MAX_AGE:
        raise ValueError(f"age {age} outside 1-{MAX_AGE}")
    if gender not in (0, 1):
        raise ValueError(f"gender {gender} is not 0 or 1")
    race = int(match["race"]) if match["race"] is not None else None
    if race is not None and race >= len(RACES):
        race = None
    return age, gender, race


@dataclass
class UTKFace:
    """The labelled, de-duplicated images of one UTKFace folder and how they were obtained."""

    root: Path
    table: pd.DataFrame  # path, file, age, gender, race (nullable), hash, split
    files: int
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)
    duplicates_removed: int = 0
    manifest: Path | None = None

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
            "root": str(self.root),
            "files": self.files,
            "labelled": len(self.table) + self.duplicates_removed,
            "unique_images": len(self.table),
            "skipped": [{"file": f, "reason": r} for f, r in self.skipped],
            "duplicates_removed": self.duplicates_removed,
            "split": {s: int(counts.get(s, 0)) for s in ("train", "val", "test")},
            "manifest": str(self.manifest) if self.manifest else None,
        }


def scan_folder(root: Path) -> tuple[pd.DataFrame, int, list[tuple[str, str]]]:
    """Parse every image name under ``root``; return (table, number of files, skipped)."""
    rows, skipped, files = [], [], 0
    for path in sorted(p for p in Path(root).iterdir() if p.is_file()):
        if not path.name.lower().endswith(IMAGE_SUFFIXES):
            continue
        files += 1
        try:
            age, gender, race = parse_name(path.name)
        except ValueError as reason:
            skipped.append((path.name, str(reason)))
            continue
        digest = hashlib.sha1(path.read_bytes()).hexdigest()
        rows.append((str(path), path.name, age, gender, race, digest))
    table = pd.DataFrame(rows, columns=["path", "file", "age", "gender", "race", "hash"])
    table["race"] = table["race"].astype("Int64")
    return table, files, skipped


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


def load_utkface(data_dir: str | os.PathLike | None = None, work_dir: str | os.PathLike | None = None,
                 seed: int = 0) -> UTKFace:
    """Find (or download) UTKFace, label, de-duplicate and split it; write the split manifest.

    ``data_dir`` may be a folder, a ``.zip`` or a ``.tar.gz``; ``None`` downloads from Kaggle
    (or reuses an earlier download). The manifest goes to ``work_dir`` (default:
    :func:`faceage_lib.config.cache_home`) and is reused while the folder is unchanged.
    """
    work = Path(work_dir) if work_dir else cache_home()
    root = find_images_folder(resolve_dataset(data_dir, work))
    csv_path, info_path = work / MANIFEST_CSV, work / MANIFEST_INFO
    fingerprint = folder_fingerprint(root, seed)
    info = _read_info(info_path)
    if info.get("fingerprint") == fingerprint and csv_path.is_file():
        table = read_manifest(csv_path)
        skipped = [tuple(entry) for entry in info["skipped"]]
        return UTKFace(root, table, info["files"], skipped, info["duplicates_removed"], csv_path)
    table, files, skipped = scan_folder(root)
    if table.empty:
        raise DatasetError(f"{root} holds no UTKFace-named images (age_gender_race_date.jpg)")
    table, duplicates = drop_duplicates(table)
    table["split"] = assign_splits(table, seed)
    manifest = write_manifest(table, csv_path)
    info_path.write_text(json.dumps({"fingerprint": fingerprint, "root": str(root), "files": files,
                                     "skipped": skipped, "duplicates_removed": duplicates}, indent=1) + "\n")
    return UTKFace(root, table, files, skipped, duplicates, manifest)


def folder_fingerprint(root: Path, seed: int = 0) -> str:
    """A digest of the image files' names, sizes and modification times (and the split's seed)."""
    digest = hashlib.sha1(f"{root.resolve()}|seed={seed}".encode())
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if entry.is_file() and entry.name.lower().endswith(IMAGE_SUFFIXES):
            stat = entry.stat()
            digest.update(f"|{entry.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
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
    table["race"] = table["race"].astype("Int64")
    return table
