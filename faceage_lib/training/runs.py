"""A training run's folder (``runs/NAME/``), read by training, export and the benchmarks alike: its
settings (``config.json``, with the faceage that started the run) and the rows and crops it trains
and validates on."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from ..config import cache_home
from ..data.crops import CropSet, load_or_build_crops
from ..data.dataset import Dataset
from ..data.sources import load_datasets
from ..errors import DatasetError
from .config import TrainConfig

CONFIG = "config.json"
#: What ``config.json`` records beside the settings: the faceage version and git commit that started
#: the run (see :func:`~.export.made_by`; absent in runs started before faceage 0.4).
MADE_BY = ("faceage_version", "git_commit")


def write_config(run_dir: str | os.PathLike, config: TrainConfig, made_by: dict | None = None) -> Path:
    """Write a run's ``config.json``: ``config``'s settings and ``made_by`` (keys of :data:`MADE_BY`)."""
    if made_by and set(made_by) - set(MADE_BY):
        raise ValueError(f"config.json records only the settings and {', '.join(MADE_BY)}")
    path = Path(run_dir) / CONFIG
    path.write_text(json.dumps({**asdict(config), **(made_by or {})}, indent=2) + "\n")
    return path


def run_record(run_dir: str | os.PathLike) -> dict:
    """A run's ``config.json`` as written: its settings and what :data:`MADE_BY` it records."""
    return json.loads((Path(run_dir) / CONFIG).read_text())


def run_config(run_dir: str | os.PathLike) -> TrainConfig:
    """The settings a run was started with (its ``config.json``)."""
    return TrainConfig(**{key: value for key, value in run_record(run_dir).items() if key not in MADE_BY})


def run_made_by(run_dir: str | os.PathLike) -> dict:
    """The faceage version and git commit that started the run (empty for a run from before 0.4)."""
    record = run_record(run_dir)
    return {key: record[key] for key in MADE_BY if key in record}


def check_same_config(run: Path, config: TrainConfig) -> None:
    """``DatasetError`` when an interrupted run in ``run`` was started with other settings than ``config``
    (continuing it would mix two recipes in one model)."""
    started = run_record(run)
    changed = sorted(name for name, value in asdict(config).items() if started.get(name) != value)
    if changed:
        options = ", ".join("--" + name.replace("_", "-") for name in changed)
        raise DatasetError(
            f"{run} holds an interrupted run started with other settings ({options}): continue it with "
            f"`faceage train --resume {run}`, or train into a new --out folder"
        )


def run_rows(datasets: Sequence[Dataset], config: TrainConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The train and val rows of every dataset (a ``limit`` applies to each)."""
    pairs = [dataset.train_val(config.limit, config.seed) for dataset in datasets]
    return tuple(pd.concat(part, ignore_index=True) for part in zip(*pairs))  # type: ignore[return-value]


def usable_rows(rows: pd.DataFrame, crops: CropSet, datasets: Sequence[Dataset]) -> pd.DataFrame:
    """``rows`` without the photos of datasets of whole photos where no face was detected: their
    whole-frame crop is not a face crop (a face chip's whole frame is, so chips are all kept)."""
    photos = {dataset.name for dataset in datasets if not dataset.chips}
    keep = crops.detected_rows(rows) | ~rows["source"].isin(photos).to_numpy()
    return rows[keep].reset_index(drop=True)


def run_val_crops(run_dir: str | os.PathLike, data_dirs=None, work_dir: str | os.PathLike | None = None):
    """A run's config, the val rows it validated on (photos without a detected face left out, as in
    training) and their crops: ``(config, val_rows, crops)`` with ``crops[i]`` the crop of row ``i``."""
    config = run_config(run_dir)
    datasets = load_datasets(data_dirs, work_dir)
    _, val_rows = run_rows(datasets, config)
    crops = load_or_build_crops(val_rows, config.crop(), Path(work_dir) if work_dir else cache_home(), False)
    val_rows = usable_rows(val_rows, crops, datasets)
    return config, val_rows, crops.rows(val_rows)
