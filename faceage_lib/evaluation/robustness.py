"""The model on the photos people bring: a test split with each corruption applied to the whole
chip before detection, so the detector sees the damage too.

For each corruption: coverage (faces found), age MAE, signed bias, gender accuracy, and how often
the 80% range holds the true age. The model runs as it ships (the ``.tflite`` on LiteRT).
"""

from __future__ import annotations

import os

import pandas as pd

from ..data.corruptions import CORRUPTIONS, corrupt
from ..data.crops import build_crops
from ..data.sources import load_dataset
from ..inference.estimator import AgeGenderEstimator
from .metrics import evaluate_predictions

CLEAN = "clean"


def predict_corrupted(
    rows: pd.DataFrame,
    estimator: AgeGenderEstimator,
    corruption: str = CLEAN,
    flip: bool = False,
    progress: bool = False,
) -> pd.DataFrame:
    """``rows`` with the predictions on their corrupted chips, and whether a face was detected.

    A chip where no face is found is cropped from its whole frame, as in training; ``face_detected``
    says which.
    """
    alter = None if corruption == CLEAN else (lambda image, index: corrupt(image, corruption, seed=index))
    crops = {spec: build_crops(list(rows["path"]), spec, progress, alter) for spec in estimator.crops}
    detected = crops[estimator.crop][1]
    estimates = estimator.predict({spec: cut for spec, (cut, _) in crops.items()}, flip=flip)
    return rows.assign(
        pred_age=estimates.age,
        age_low=estimates.age_low,
        age_high=estimates.age_high,
        p_female=estimates.p_female,
        face_detected=detected,
    )


def robustness_scores(table: pd.DataFrame, gender_min_confidence: float | None = None) -> dict:
    """The headline figures of one corrupted copy of the split."""
    scores = evaluate_predictions(table, gender_min_confidence)
    keys = (
        "n",
        "age_mae",
        "age_bias",
        "gender_accuracy",
        "gender_shown_accuracy",
        "gender_uncertain_share",
        "age_interval_coverage",
    )
    return {"coverage": float(table["face_detected"].mean()), **{k: scores[k] for k in keys if k in scores}}


def evaluate_robustness(
    data_dir: str | os.PathLike | None,
    model_dir: str | os.PathLike | None = None,
    split: str = "test",
    work_dir: str | os.PathLike | None = None,
    flip: bool = False,
    corruptions: list[str] | None = None,
    progress: bool = False,
) -> tuple[dict[str, pd.DataFrame], float]:
    """Per-image predictions for the clean split and each corruption of :data:`CORRUPTIONS`
    (``{name: table}``), and the model's gender threshold for :func:`robustness_scores`."""
    rows = load_dataset(data_dir, work_dir).split(split)
    estimator = AgeGenderEstimator(model_dir)
    names = [CLEAN, *(corruptions if corruptions is not None else CORRUPTIONS)]
    tables = {name: predict_corrupted(rows, estimator, name, flip, progress) for name in names}
    return tables, estimator.gender_min_confidence
