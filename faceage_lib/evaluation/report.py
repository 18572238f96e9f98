"""``faceage report``: evaluate once on each dataset's test split and write what an evaluation shows.

The output folder gets every evaluation figure as PNG, ``metrics.json`` (the figures of
:func:`~.evaluate.evaluate`, by dataset), ``predictions.csv`` and ``report.md``, where each figure
comes with one line reading it, computed from the numbers. The ``describe_*`` functions write those
lines. Figures that need gender (or race) labels are left out for a dataset without them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..config import AGE_GROUP_LABELS, model_dir as default_model_dir
from . import plots
from .evaluate import Evaluation, evaluate
from .metrics import age_group_confusion, format_metrics

DPI = 120
TRAINING_LOG = "training_log.csv"


class Section(NamedTuple):
    """One figure of the report: its file name, heading, figure and reading."""

    file: str
    title: str
    figure: Figure
    reading: str


def write_report(
    data_dirs,
    out_dir: str | os.PathLike,
    model_dir: str | os.PathLike | None = None,
    work_dir: str | os.PathLike | None = None,
    flip: bool = False,
) -> Path:
    """Evaluate the model on each dataset's test split and write the report into ``out_dir``; returns report.md."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    evaluations = evaluate(data_dirs, model_dir, work_dir, flip)
    (out / "metrics.json").write_text(json.dumps({name: e.metrics for name, e in evaluations.items()}, indent=2) + "\n")
    pd.concat([e.table for e in evaluations.values()]).to_csv(out / "predictions.csv", index=False)
    model = Path(model_dir) if model_dir else default_model_dir()
    prefix = len(evaluations) > 1  # several datasets: each one's figures get its name
    parts = [("", training_sections(model))]
    parts += [(name, evaluation_sections(e, f"{name}_" if prefix else "")) for name, e in evaluations.items()]
    for _, sections in parts:
        for section in sections:
            section.figure.savefig(out / section.file, dpi=DPI)
    path = out / "report.md"
    path.write_text(render_markdown(evaluations, parts, model))
    return path


def training_sections(model: str | os.PathLike) -> list[Section]:
    """The training curves if the model folder (or the folder of the given model file) has a usable
    ``training_log.csv``; else nothing."""
    folder = Path(model)
    if folder.is_file():  # the path of the .tflite itself
        folder = folder.parent
    if not (folder / TRAINING_LOG).is_file():
        return []
    log = plots.read_training_log(folder / TRAINING_LOG)
    try:
        figure = plots.training_curves(log)
    except ValueError:  # empty, or none of the curves logged
        return []
    return [Section("training_curves.png", "Training curves", figure, describe_training(log))]


def evaluation_sections(evaluation: Evaluation, prefix: str = "") -> list[Section]:
    """Every evaluation figure with its reading (those that need gender or race labels only where the
    dataset has them); file names start with ``prefix``."""
    table, metrics = evaluation.table, evaluation.metrics
    with_gender = table[table["gender"].notna()]
    sections = []
    if len(with_gender):
        sections.append(
            Section(
                "gender_confusion.png",
                "Gender: true vs predicted",
                plots.gender_confusion(with_gender),
                describe_gender_confusion(with_gender),
            )
        )
    sections += [
        Section(
            "age_group_confusion.png",
            "Age group: true vs predicted",
            plots.age_group_confusion_matrix(table),
            describe_age_group_confusion(table),
        ),
        Section(
            "mae_by_age_group.png",
            "Age error per age group",
            plots.mae_by_age_group(metrics),
            describe_age_groups(metrics),
        ),
        Section(
            "predicted_vs_true.png",
            "Predicted vs true age",
            plots.predicted_vs_true(table),
            describe_predicted_vs_true(table, metrics),
        ),
    ]
    if len(with_gender) and table["race"].notna().any():
        sections.append(
            Section("fairness.png", "Per race and gender", plots.fairness(metrics), describe_fairness(metrics))
        )
    sections.append(
        Section("largest_errors.png", "Largest age errors", plots.largest_errors(table), describe_largest_errors(table))
    )
    return [section._replace(file=prefix + section.file) for section in sections]


def render_markdown(evaluations: dict[str, Evaluation], parts: list[tuple[str, list[Section]]], model: Path) -> str:
    """report.md: each dataset's figures in a text table, then each figure with its reading."""
    lines = ["# faceage evaluation report", ""]
    flip = any(e.metrics.get("flip") for e in evaluations.values())
    lines.append(
        f"Model `{model}` on the test split of "
        + ", ".join(f"{name} ({e.metrics['n']} images)" for name, e in evaluations.items())
        + (" (each averaged with its mirror image)." if flip else ".")
    )
    for name, evaluation in evaluations.items():
        lines += ["", f"## {name}: figures", "", "```text", format_metrics(evaluation.metrics), "```"]
    for name, sections in parts:
        for section in sections:
            title = f"{name}: {section.title}" if name else section.title
            lines += ["", f"## {title}", "", f"![{title}]({section.file})", "", section.reading]
    lines += ["", "All figures, per group too: `metrics.json`. One row per test image: `predictions.csv`.", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- readings


#: Groups with fewer test images than this are left out of the sentences: their figures say too little.
MIN_GROUP_SIZE = 30


def _telling(groups: dict, key: str) -> list[tuple[str, dict]]:
    """The (name, row) of groups of at least :data:`MIN_GROUP_SIZE` images with a ``key`` value
    (of all groups with one, if none is that large)."""
    scored = [(name, row) for name, row in groups.items() if row["n"] and row[key] is not None]
    return [(name, row) for name, row in scored if row["n"] >= MIN_GROUP_SIZE] or scored


def _extremes(groups: dict, key: str) -> tuple[tuple[str, dict], tuple[str, dict]]:
    """The (name, row) with the lowest and the highest ``key`` among the :func:`_telling` groups."""
    telling = _telling(groups, key)
    return min(telling, key=lambda item: item[1][key]), max(telling, key=lambda item: item[1][key])


def describe_training(log: str | os.PathLike | pd.DataFrame) -> str:
    """Where validation age MAE was best (the checkpoint training keeps), and how many epochs ran."""
    log = plots.read_training_log(log)
    epochs = f"{len(log)} epochs logged"
    if "val_age_mae" not in log:
        return f"{epochs}; the log has no validation age MAE."
    best = log.loc[log["val_age_mae"].idxmin()]
    line = f"Validation age MAE was best at epoch {int(best['epoch']) + 1} ({best['val_age_mae']:.2f} years; {epochs})"
    if "val_gender_accuracy" in log:
        line += f", with validation gender accuracy {best['val_gender_accuracy']:.1%} there"
    return line + "; that epoch's weights are the exported model."


def describe_gender_confusion(table: pd.DataFrame) -> str:
    """Share right, and how many of each gender were read as the other."""
    predicted = plots.predicted_gender(table)
    true = table["gender"].to_numpy(int)
    men, women = true == 0, true == 1
    return (
        f"Gender is right for {np.mean(predicted == true):.1%} of {len(table)} test images; "
        f"{int(np.sum(predicted[men] == 1))} of {int(men.sum())} men were read as women "
        f"and {int(np.sum(predicted[women] == 0))} of {int(women.sum())} women as men."
    )


def describe_age_group_confusion(table: pd.DataFrame) -> str:
    """Share in the right age group, within one group, and the groups most and least often right."""
    confusion = age_group_confusion(table["age"], table["pred_age"])
    counts = confusion.to_numpy()
    distance = np.abs(np.subtract.outer(np.arange(len(counts)), np.arange(len(counts))))
    total = max(1, counts.sum())
    rows = (pd.Series(np.diag(counts), index=AGE_GROUP_LABELS) / confusion.sum(axis=1).to_numpy()).dropna()
    return (
        f"The predicted age group is the true one for {counts[distance == 0].sum() / total:.0%} of images "
        f"and at most one group off for {counts[distance <= 1].sum() / total:.0%}; "
        f"most often right for {rows.idxmax()} ({rows.max():.0%}), least for {rows.idxmin()} ({rows.min():.0%})."
    )


def describe_age_groups(metrics: dict) -> str:
    """The age groups with the lowest and highest MAE."""
    (low, low_row), (high, high_row) = _extremes(metrics["by_age_group"], "age_mae")
    return (
        f"MAE is lowest for {low} ({low_row['age_mae']:.1f} years, n={low_row['n']}) "
        f"and highest for {high} ({high_row['age_mae']:.1f} years, n={high_row['n']})."
    )


def describe_predicted_vs_true(table: pd.DataFrame, metrics: dict) -> str:
    """Bias, spread and CS@5 of the age predictions."""
    bias = float(np.mean(table["pred_age"] - table["age"]))
    direction = "too high" if bias >= 0 else "too low"
    return (
        f"Predictions are {abs(bias):.1f} years {direction} on average; MAE {metrics['age_mae']:.1f}, "
        f"RMSE {metrics['age_rmse']:.1f} years, {metrics['cs5']:.0%} within 5 years (CS@5)."
    )


def describe_fairness(metrics: dict) -> str:
    """The spread of MAE and gender accuracy across races, and both per gender."""
    (mae_low, mae_low_row), (mae_high, mae_high_row) = _extremes(metrics["by_race"], "age_mae")
    (acc_low, acc_low_row), (acc_high, acc_high_row) = _extremes(metrics["by_race"], "gender_accuracy")
    genders = "; ".join(
        f"{name}: MAE {row['age_mae']:.1f}, gender accuracy {row['gender_accuracy']:.1%}"
        for name, row in _telling(metrics["by_gender"], "age_mae")
    )
    return (
        f"Across races, MAE runs from {mae_low_row['age_mae']:.1f} ({mae_low}, n={mae_low_row['n']}) "
        f"to {mae_high_row['age_mae']:.1f} ({mae_high}, n={mae_high_row['n']}) and gender accuracy from "
        f"{acc_low_row['gender_accuracy']:.1%} ({acc_low}) to {acc_high_row['gender_accuracy']:.1%} ({acc_high}); "
        f"{genders}."
    )


def describe_largest_errors(table: pd.DataFrame, count: int = 12) -> str:
    """How large the worst errors are, which way they go, and how many had no detected face."""
    rows = plots.worst_predictions(table, count)
    over = int((rows["error"] > 0).sum())
    line = (
        f"The {len(rows)} largest errors are {rows['error'].abs().min():.0f} to {rows['error'].abs().max():.0f} "
        f"years ({over} over-, {len(rows) - over} under-estimates)"
    )
    if "face_detected" in rows:
        line += f"; no face was detected on {int((~rows['face_detected'].astype(bool)).sum())} (whole-image crop)"
    return line + "."
