"""UTKFace's labels: parse them from file names; de-duplicated and split by :mod:`.dataset`.

The split is a pure function of the images' content: the same files always give the same
train / val / test assignment, whatever their order on disk or their folder. The manifest is
read back while the folder is unchanged (same names, sizes and times), so images are hashed once.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from ..config import MAX_AGE, RACES, UNKNOWN_GENDER, cache_home
from ..errors import DatasetError
from .dataset import Dataset, Scan, assign_splits, cached_dataset, content_hash, files_fingerprint
from .download import IMAGE_SUFFIXES, find_images_folder, resolve_dataset

NAME = "utkface"

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


def scan_folder(root: Path) -> Scan:
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
        digest = content_hash(path)
        rows.append((str(path), path.name, age, gender, race, digest))
    table = pd.DataFrame(rows, columns=["path", "file", "age", "gender", "race", "hash"])
    if not rows:
        raise DatasetError(f"{root} holds no UTKFace-named images (age_gender_race_date.jpg)")
    for column in ("gender", "race"):
        table[column] = table[column].astype("Int64")
    return table, files, skipped


def load_utkface(
    data_dir: str | os.PathLike | None = None, work_dir: str | os.PathLike | None = None, seed: int = 0
) -> Dataset:
    """Find (or download) UTKFace, label, de-duplicate and split it; write the split manifest.

    ``data_dir`` may be a folder, a ``.zip`` or a ``.tar.gz``; ``None`` downloads from Kaggle
    (or reuses an earlier download). The manifest goes to ``work_dir`` (default:
    :func:`faceage_lib.config.cache_home`) and is reused while the folder is unchanged.
    """
    work = Path(work_dir) if work_dir else cache_home()
    root = find_images_folder(resolve_dataset(data_dir, work))
    images = [
        Path(entry.path)
        for entry in os.scandir(root)
        if entry.is_file() and entry.name.lower().endswith(IMAGE_SUFFIXES)
    ]
    return cached_dataset(
        NAME,
        root,
        work,
        files_fingerprint(root, images, seed),
        lambda: scan_folder(root),
        lambda table: assign_splits(table, seed),
        chips=True,
    )
