"""``faceage evaluate``: the shipped (or given) model on the manifest's test split.

The model runs exactly as it ships (the ``.tflite`` on LiteRT) on crops made by the shipped
detector and crop function.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import cache_home
from ..inference.estimator import AgeGenderEstimator
from ..data.crops import load_or_build_crops
from ..data.utkface import load_utkface
from .metrics import evaluate_predictions


def predict_split(data_dir: str | os.PathLike | None, model_dir: str | os.PathLike | None = None,
                  split: str = "test", work_dir: str | os.PathLike | None = None, flip: bool = False,
                  progress: bool = True) -> tuple[pd.DataFrame, dict]:
    """Predictions for every image of ``split`` and timing facts."""
    dataset = load_utkface(data_dir, work_dir)
    work = Path(work_dir) if work_dir else cache_home()
    estimator = AgeGenderEstimator(model_dir)
    rows = dataset.split(split)
    crops = load_or_build_crops(rows, estimator.img_size, work, progress)  # only the rows evaluated
    batch = crops.rows(rows)
    started = time.perf_counter()
    estimates = estimator.predict(batch, flip=flip)
    seconds = time.perf_counter() - started
    detected = pd.Series(crops.detected, index=crops.hashes).reindex(rows["hash"]).to_numpy()
    table = rows.assign(pred_age=estimates.age, age_low=estimates.age_low, age_high=estimates.age_high,
                        p_female=estimates.p_female, face_detected=detected)
    facts = {"images_per_second": len(rows) / seconds if seconds else None, "flip": flip,
             "face_detected_share": float(np.mean(detected)) if len(rows) else None,
             "gender_min_confidence": estimator.gender_min_confidence}
    return table, facts


def evaluate(data_dir: str | os.PathLike | None, model_dir: str | os.PathLike | None = None,
             work_dir: str | os.PathLike | None = None, flip: bool = False, progress: bool = True) -> dict:
    """The figures of :func:`faceage_lib.evaluation.metrics.evaluate_predictions` plus throughput."""
    table, facts = predict_split(data_dir, model_dir, "test", work_dir, flip, progress)
    return {**evaluate_predictions(table, facts["gender_min_confidence"]), **facts}
