"""``faceage evaluate``: the shipped (or given) model on each dataset's test split.

The model runs exactly as it ships (the ``.tflite`` on LiteRT) on crops made by the shipped
detector and crop function. On a dataset of whole photos (APPA-REAL, a labelled folder), a photo
where no face is found gets no answer, as for a user: it is left out of the figures and counted
(``no_face_share``). On face chips (UTKFace) such a chip is cropped whole, as in training.
:func:`evaluate_dataset` is the one path to the figures: ``faceage report`` and the benchmarks use it too.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import cache_home
from ..data.crops import load_or_build_crops
from ..data.dataset import Dataset
from ..data.sources import load_datasets
from ..inference.estimator import AgeGenderEstimator
from .metrics import evaluate_predictions


@dataclass
class Evaluation:
    """One dataset's split: a row per image with its predictions, and the figures."""

    dataset: str
    table: pd.DataFrame
    metrics: dict


def predict_split(
    dataset: Dataset,
    estimator: AgeGenderEstimator,
    split: str = "test",
    work_dir: str | os.PathLike | None = None,
    flip: bool = False,
    progress: bool = True,
) -> tuple[pd.DataFrame, dict]:
    """Predictions for every image of ``split`` that gets an answer, and facts about the run."""
    work = Path(work_dir) if work_dir else cache_home()
    rows = dataset.split(split)
    # crops only what it evaluates: each crop the model folder takes (its members' too)
    crops = {spec: load_or_build_crops(rows, spec, work, progress) for spec in estimator.crops}
    detected = crops[estimator.crop].detected_rows(rows)
    answered_mask = detected | dataset.chips
    answered = rows[answered_mask].reset_index(drop=True)
    started = time.perf_counter()
    estimates = estimator.predict({spec: found.rows(answered) for spec, found in crops.items()}, flip=flip)
    seconds = time.perf_counter() - started
    table = answered.assign(
        pred_age=estimates.age,
        age_low=estimates.age_low,
        age_high=estimates.age_high,
        p_female=estimates.p_female,
        p_under_18=estimates.p_under_18,
        face_detected=detected[answered_mask],
    )
    facts = {
        "dataset": dataset.name,
        "split": split,
        "images": len(rows),
        "images_per_second": len(answered) / seconds if seconds else None,
        "flip": flip,
        "face_detected_share": float(np.mean(detected)) if len(rows) else None,
        "no_face_share": float(1 - len(answered) / len(rows)) if len(rows) else None,
        "gender_min_confidence": estimator.gender_min_confidence,
    }
    return table, facts


def evaluate_dataset(
    dataset: Dataset,
    estimator: AgeGenderEstimator,
    split: str = "test",
    work_dir: str | os.PathLike | None = None,
    flip: bool = False,
    progress: bool = True,
) -> Evaluation:
    """The figures of :func:`~.metrics.evaluate_predictions` (with the model's gender threshold) and the facts."""
    table, facts = predict_split(dataset, estimator, split, work_dir, flip, progress)
    return Evaluation(dataset.name, table, {**evaluate_predictions(table, estimator.gender_min_confidence), **facts})


def evaluate(
    data_dirs=None,
    model_dir: str | os.PathLike | None = None,
    work_dir: str | os.PathLike | None = None,
    flip: bool = False,
    progress: bool = True,
    split: str = "test",
) -> dict[str, Evaluation]:
    """Each dataset's evaluation, by name (``data_dirs`` as ``faceage train`` takes them)."""
    estimator = AgeGenderEstimator(model_dir)
    return {
        dataset.name: evaluate_dataset(dataset, estimator, split, work_dir, flip, progress)
        for dataset in load_datasets(data_dirs, work_dir)
    }
