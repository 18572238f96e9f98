"""Where labelled faces come from, by path: a UTKFace folder or archive (or, with no path, the
Kaggle download), or a labelled folder (:mod:`.labelled`: APPA-REAL, or a user's own photos)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import pandas as pd

from ..errors import DatasetError
from .dataset import Dataset
from .labelled import is_labelled_folder, load_labelled
from .utkface import load_utkface


def load_dataset(path: str | os.PathLike | None, work_dir: str | os.PathLike | None = None, seed: int = 0) -> Dataset:
    """The dataset at ``path``: a labelled folder if it has its labels CSV, else UTKFace."""
    if path is not None and is_labelled_folder(path):
        return load_labelled(path, work_dir, seed)
    return load_utkface(path, work_dir, seed)


def load_datasets(
    paths: Sequence[str | os.PathLike | None] | str | os.PathLike | None,
    work_dir: str | os.PathLike | None = None,
    seed: int = 0,
) -> list[Dataset]:
    """Every dataset of ``paths`` (one path, a list, or None for the UTKFace download); names are unique."""
    if paths is None or isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    datasets = [load_dataset(path, work_dir, seed) for path in paths or [None]]
    names = [dataset.name for dataset in datasets]
    if len(set(names)) != len(names):
        raise DatasetError(f"two datasets have the same name ({', '.join(names)}): rename one of the folders")
    return datasets


def combined_split(datasets: Sequence[Dataset], split: str) -> pd.DataFrame:
    """The rows of ``split`` of every dataset, one table (its ``source`` column says whose)."""
    return pd.concat([dataset.split(split) for dataset in datasets], ignore_index=True)
