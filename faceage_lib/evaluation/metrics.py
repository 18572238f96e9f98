"""Evaluation figures: age MAE / RMSE / CS@5, gender scores, and the same per group.

Input is a table with one row per test image: ``age``, ``gender`` (0 male, 1 female; missing
where the dataset does not say: such rows count for age only), ``race`` (nullable), ``pred_age``,
``p_female`` and optionally ``age_low`` / ``age_high`` and ``p_under_18``.

Besides the errors, the figures people ask of an age estimator: the mean error (bias) per age
band, how often minors are read as adults and adults as minors (:func:`age_threshold_scores`),
what an age check at a challenge age lets through (:func:`challenge_scores`) and whether
``p_under_18`` means what it says (:func:`~faceage_lib.inference.estimator.reliability_table`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import AGE_GROUP_LABELS, AGE_OF_MAJORITY, GENDER_THRESHOLD, GENDERS, RACES, age_group
from ..inference.estimator import reliability_table

#: Finer bands for the mean error (bias), where an estimator's lean shows: children, teenagers, adults.
BIAS_BAND_EDGES = (0, 3, 10, 15, 20, 30, 40, 50, 60)
BIAS_BAND_LABELS = ("0-2", "3-9", "10-14", "15-19", "20-29", "30-39", "40-49", "50-59", "60+")
#: Ages at which "minor called adult" and "adult called minor" are counted.
AGE_THRESHOLDS = (13, 16, 18)
#: Adults for the "adult called minor" share: this age or over (clear of the threshold).
ADULT_AGE = 25
#: Challenge ages of an age check (:func:`challenge_scores`): 18 itself, and the margins above it
#: that age-assurance practice uses.
CHALLENGE_AGES = (18, 21, 25, 30)


def predicted_gender(p_female) -> np.ndarray:
    """Predicted gender codes (0 male, 1 female) from P(female)."""
    return (np.asarray(p_female, float) >= GENDER_THRESHOLD).astype(int)


def age_scores(true: np.ndarray, pred: np.ndarray) -> dict:
    error = np.asarray(pred, float) - np.asarray(true, float)
    if not len(error):
        return {"n": 0, "age_mae": None, "age_bias": None, "age_rmse": None, "cs5": None}
    return {
        "n": int(len(error)),
        "age_mae": float(np.mean(np.abs(error))),
        "age_bias": float(np.mean(error)),
        "age_rmse": float(np.sqrt(np.mean(error**2))),
        "cs5": float(np.mean(np.abs(error) <= 5)),
    }


def _known(true, p_female) -> tuple[np.ndarray, np.ndarray]:
    """The (gender codes, P(female)) of the rows whose gender is known."""
    true = pd.Series(true).astype("Float64").to_numpy(float, na_value=np.nan)
    known = ~np.isnan(true)
    return true[known].astype(int), np.asarray(p_female, float)[known]


def gender_scores(true: np.ndarray, p_female: np.ndarray) -> dict:
    """Accuracy, and precision / recall / F1 with "female" as the positive class (rows with a gender)."""
    true, p_female = _known(true, p_female)
    pred = predicted_gender(p_female)
    if not len(true):
        return {"gender_accuracy": None, "gender_precision": None, "gender_recall": None, "gender_f1": None}
    tp = int(np.sum((pred == 1) & (true == 1)))
    precision = tp / max(1, int(pred.sum()))
    recall = tp / max(1, int(true.sum()))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "gender_accuracy": float(np.mean(pred == true)),
        "gender_precision": float(precision),
        "gender_recall": float(recall),
        "gender_f1": float(f1),
    }


def _group_scores(rows: pd.DataFrame, gender_min_confidence: float | None = None) -> dict:
    age = age_scores(rows["age"], rows["pred_age"])
    gender = gender_scores(rows["gender"], rows["p_female"])
    scores = {
        "n": age["n"],
        "age_mae": age["age_mae"],
        "age_bias": age["age_bias"],
        "age_rmse": age["age_rmse"],
        "cs5": age["cs5"],
        "gender_accuracy": gender["gender_accuracy"],
    }
    if gender_min_confidence is not None:
        scores.update(shown_gender_scores(rows["gender"], rows["p_female"], gender_min_confidence))
    return scores


def shown_gender_scores(true: np.ndarray, p_female: np.ndarray, min_confidence: float) -> dict:
    """Accuracy of the genders shown (confidence at least ``min_confidence``) and the share held back."""
    true, p_female = _known(true, p_female)
    shown = np.maximum(p_female, 1 - p_female) >= min_confidence
    right = predicted_gender(p_female) == true
    return {
        "gender_shown_accuracy": float(right[shown].mean()) if shown.any() else None,
        "gender_uncertain_share": float(1 - shown.mean()) if len(shown) else None,
    }


def evaluate_predictions(table: pd.DataFrame, gender_min_confidence: float | None = None) -> dict:
    """All figures for one table of predictions (see the module docstring); with the model's
    ``gender_min_confidence``, also the accuracy of the genders it shows and the share it holds back."""
    result = {**age_scores(table["age"], table["pred_age"]), **gender_scores(table["gender"], table["p_female"])}
    result["gender_labelled"] = int(table["gender"].notna().sum())
    if gender_min_confidence is not None:
        result.update(shown_gender_scores(table["gender"], table["p_female"], gender_min_confidence))
    if {"age_low", "age_high"} <= set(table.columns):
        inside = (table["age_low"] <= table["age"]) & (table["age"] <= table["age_high"])
        result["age_interval_coverage"] = float(inside.mean()) if len(table) else None
        result["age_interval_mean_width"] = float((table["age_high"] - table["age_low"]).mean()) if len(table) else None
    groups = pd.Series(age_group(table["age"]), index=table.index)
    threshold = gender_min_confidence
    result["by_age_group"] = {label: _group_scores(table[groups == label], threshold) for label in AGE_GROUP_LABELS}
    result["by_gender"] = {
        name: _group_scores(table[table["gender"] == code], threshold) for code, name in enumerate(GENDERS)
    }
    race = table["race"].astype("Int64")
    known_race = race.notna()
    result["by_race"] = (
        {name: _group_scores(table[known_race & (race == code)], threshold) for code, name in enumerate(RACES)}
        if known_race.any()
        else {}
    )
    if race.isna().any():
        result["by_race"]["unknown"] = _group_scores(table[race.isna()], threshold)
    bands = pd.Series(age_band(table["age"]), index=table.index)
    result["by_age_band"] = {
        label: age_scores(table["age"][bands == label], table["pred_age"][bands == label]) for label in BIAS_BAND_LABELS
    }
    result["age_thresholds"] = age_threshold_scores(table["age"], table["pred_age"])
    result["challenge"] = challenge_scores(table["age"], table["pred_age"])
    if "p_under_18" in table.columns:
        minors = table["age"].to_numpy() < AGE_OF_MAJORITY
        result["p_under_18_reliability"] = reliability_table(table["p_under_18"], minors)
        result["p_under_18_brier"] = float(np.mean((table["p_under_18"] - minors) ** 2)) if len(table) else None
    return result


def challenge_scores(true, pred) -> dict:
    """At each challenge age c of :data:`CHALLENGE_AGES` (a face passes the check when its estimate is
    c or over): the share of minors (under 18) who pass, ``minors_pass``, and of adults (18 or over)
    who are challenged, ``adults_challenged``; ``None`` where a dataset has nobody in the group."""
    true, pred = np.asarray(true, float), np.asarray(pred, float)
    minors, adults = true < AGE_OF_MAJORITY, true >= AGE_OF_MAJORITY
    return {
        str(age): {
            "minors_pass": float(np.mean(pred[minors] >= age)) if minors.any() else None,
            "adults_challenged": float(np.mean(pred[adults] < age)) if adults.any() else None,
        }
        for age in CHALLENGE_AGES
    }


def age_band(ages) -> np.ndarray:
    """Map ages to the labels of :data:`BIAS_BAND_LABELS`."""
    index = np.searchsorted(BIAS_BAND_EDGES, np.asarray(ages, dtype=float), side="right") - 1
    return np.asarray(BIAS_BAND_LABELS)[np.clip(index, 0, len(BIAS_BAND_LABELS) - 1)]


def age_threshold_scores(true, pred) -> dict:
    """At each age t of :data:`AGE_THRESHOLDS`: the share of people under t estimated t or over
    (``under_<t>_called_over``), and of adults (:data:`ADULT_AGE` or over) estimated under t
    (``adults_called_under_<t>``); ``None`` where a dataset has nobody in the group."""
    true, pred = np.asarray(true, float), np.asarray(pred, float)
    adults = true >= ADULT_AGE
    scores: dict = {}
    for age in AGE_THRESHOLDS:
        minors = true < age
        scores[f"under_{age}_called_over"] = float(np.mean(pred[minors] >= age)) if minors.any() else None
        scores[f"adults_called_under_{age}"] = float(np.mean(pred[adults] < age)) if adults.any() else None
    return scores


def age_group_confusion(true_ages, pred_ages) -> pd.DataFrame:
    """Counts of (true age group, predicted age group), every group on both axes."""
    true_groups = pd.Categorical(age_group(true_ages), categories=AGE_GROUP_LABELS)
    pred_groups = pd.Categorical(age_group(np.clip(pred_ages, 0, None)), categories=AGE_GROUP_LABELS)
    return pd.crosstab(true_groups, pred_groups, dropna=False).rename_axis(index="true", columns="predicted")


def format_metrics(result: dict) -> str:
    """The evaluation as readable tables."""
    pct = lambda v: "-" if v is None else f"{100 * v:5.1f}%"  # noqa: E731
    num = lambda v: "-" if v is None else f"{v:5.2f}"  # noqa: E731
    lines = [
        f"images             {result['n']}",
        f"age MAE            {num(result['age_mae'])} years",
        f"age RMSE           {num(result['age_rmse'])} years",
        f"CS@5               {pct(result['cs5'])}",
        f"gender accuracy    {pct(result['gender_accuracy'])}",
        f"gender P / R / F1  {pct(result['gender_precision'])} / {pct(result['gender_recall'])} / "
        f"{pct(result['gender_f1'])}  (female = positive)",
    ]
    if result.get("gender_shown_accuracy") is not None:
        lines.append(
            f"genders shown       {pct(result['gender_shown_accuracy'])} right; "
            f"{pct(result['gender_uncertain_share'])} held back as uncertain"
        )
    if result.get("age_interval_coverage") is not None:
        lines.append(
            f"age range holds    {pct(result['age_interval_coverage'])} of true ages "
            f"(mean width {result['age_interval_mean_width']:.1f} years)"
        )
    if result.get("images_per_second"):
        lines.append(f"throughput         {result['images_per_second']:.0f} images/s (model only, batched)")
    if result.get("age_bias") is not None:
        lines.append(f"mean error (bias)  {result['age_bias']:+.2f} years")
    thresholds = result.get("age_thresholds", {})
    for age in AGE_THRESHOLDS:
        lines.append(
            f"under {age} read {age}+  {pct(thresholds.get(f'under_{age}_called_over'))}   "
            f"adults ({ADULT_AGE}+) read under {age}: {pct(thresholds.get(f'adults_called_under_{age}'))}"
        )
    if result.get("by_age_band"):
        lines += ["", f"{'age band':<12} {'n':>6} {'MAE':>6} {'bias':>6}"]
        for name, row in result["by_age_band"].items():
            bias = "-" if row["age_bias"] is None else f"{row['age_bias']:+5.1f}"
            lines.append(f"{name:<12} {row['n']:>6} {num(row['age_mae']):>6} {bias:>6}")
    for key, title in (("by_age_group", "age group"), ("by_gender", "gender"), ("by_race", "race")):
        if not any(row["n"] for row in result[key].values()):
            continue
        lines += ["", f"{title:<12} {'n':>6} {'MAE':>6} {'CS@5':>7} {'gender acc':>11}"]
        for name, row in result[key].items():
            lines.append(
                f"{name:<12} {row['n']:>6} {num(row['age_mae']):>6} {pct(row['cs5']):>7} "
                f"{pct(row['gender_accuracy']):>11}"
            )
    return "\n".join(lines)
