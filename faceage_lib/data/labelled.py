"""Photos with their labels in CSV files beside them: APPA-REAL's layout, or a user's own photos.

Two layouts, told apart by the file names:

* official splits: ``train_labels.csv``, ``val_labels.csv`` and ``test_labels.csv`` name files in the
  folders ``train/``, ``val/`` and ``test/`` (APPA-REAL, as ``../shared/appa-real`` holds it);
* one table: ``labels.csv`` names files relative to the folder; the split is made as UTKFace's is
  (by content, stratified by age group and gender), and kept in a manifest.

Columns: ``file``, ``age`` (years, 0-116; a decimal age is rounded) and optionally ``gender``
(``female``/``f``/``1`` or ``male``/``m``/``0``; empty where unknown). A row whose file is missing
or whose labels cannot be read is skipped, with its reason.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd

from ..config import MAX_AGE, cache_home
from ..errors import DatasetError
from .dataset import SPLITS, Dataset, Scan, assign_splits, cached_dataset, content_hash, files_fingerprint
from .download import IMAGE_SUFFIXES

ONE_TABLE = "labels.csv"
GENDER_CODES = {"male": 0, "m": 0, "0": 0, "female": 1, "f": 1, "1": 1}


def is_labelled_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder in one of this module's layouts."""
    folder = Path(path)
    return (folder / ONE_TABLE).is_file() or (folder / "train_labels.csv").is_file()


def load_labelled(
    root: str | os.PathLike, work_dir: str | os.PathLike | None = None, seed: int = 0, name: str | None = None
) -> Dataset:
    """Read, de-duplicate and split a labelled folder (named after the folder unless ``name``)."""
    root = Path(root).expanduser()
    if not is_labelled_folder(root):
        raise DatasetError(f"{root} has neither {ONE_TABLE} nor train_labels.csv / val_labels.csv / test_labels.csv")
    work = Path(work_dir) if work_dir else cache_home()
    name = name or root.resolve().name.lower()
    official = not (root / ONE_TABLE).is_file()
    tables: dict[str | None, Path] = (
        {split: root / f"{split}_labels.csv" for split in SPLITS} if official else {None: root / ONE_TABLE}
    )
    files = [path for path in tables.values() if path.is_file()]
    files += [
        Path(folder) / file
        for folder, _, names in os.walk(root)
        for file in names
        if file.lower().endswith(IMAGE_SUFFIXES)
    ]
    split = (lambda table: table.pop("official_split")) if official else (lambda table: assign_splits(table, seed))
    return cached_dataset(
        name, root, work, files_fingerprint(root, files, seed), lambda: scan_tables(root, tables), split
    )


def scan_tables(root: Path, tables: dict[str | None, Path]) -> Scan:
    """Read each labels CSV (``{split or None: path}``); files are looked up in ``root/split``."""
    rows, skipped, files = [], [], 0
    for split, csv_path in tables.items():
        if not csv_path.is_file():
            continue
        labels = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
        if not {"file", "age"} <= set(labels.columns):
            raise DatasetError(f"{csv_path} needs the columns file and age (it has {', '.join(labels.columns)})")
        folder = root / split if split else root
        for record in labels.to_dict("records"):
            files += 1
            path = folder / record["file"]
            try:
                age, gender = parse_labels(record["age"], record.get("gender", ""))
                digest = content_hash(path)
            except (ValueError, OSError) as reason:
                skipped.append((f"{split}/{record['file']}" if split else record["file"], _reason(reason)))
                continue
            rows.append((str(path), record["file"], age, gender, None, digest, split))
    table = pd.DataFrame(rows, columns=["path", "file", "age", "gender", "race", "hash", "official_split"])
    for column in ("gender", "race"):
        table[column] = table[column].astype("Int64")
    return table, files, skipped


def parse_labels(age: str, gender: str = "") -> tuple[int, int | None]:
    """(age in whole years, gender code or None) from a CSV row's text; ``ValueError`` says why not."""
    try:
        years = float(age)
    except ValueError:
        raise ValueError(f"age {age!r} is not a number") from None
    if not math.isfinite(years) or not 0 <= round(years) <= MAX_AGE:
        raise ValueError(f"age {age!r} outside 0-{MAX_AGE}")
    text = str(gender).strip().lower()
    if text and text not in GENDER_CODES:
        raise ValueError(f"gender {gender!r} is not female, male, f, m, 1 or 0")
    return int(round(years)), GENDER_CODES.get(text)


def _reason(error: Exception) -> str:
    return "file missing or unreadable" if isinstance(error, OSError) else str(error)
