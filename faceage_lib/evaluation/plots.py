"""Figures for exploring UTKFace, following a training run and reading an evaluation.

Every function returns a :class:`matplotlib.figure.Figure` made without pyplot: nothing is
shown and no global figure is kept, so it works under any backend (Agg included). Save one
with ``fig.savefig(path)``; in a notebook, a returned figure displays itself.

Inputs: the UTKFace table (``data.load_utkface(...).table``), the predictions table of
:func:`faceage_lib.evaluation.evaluate.predict_split` (the same columns plus ``pred_age``, ``age_low``,
``age_high``, ``p_female``, ``face_detected``), and the metrics of
:func:`faceage_lib.evaluation.metrics.evaluate_predictions`.
"""

from __future__ import annotations

import functools
import math
import os
from itertools import zip_longest

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from ..config import AGE_GROUP_LABELS, GENDERS, MAX_AGE, RACES, age_group
from ..inference.images import load_image
from .metrics import age_group_confusion, predicted_gender as _predicted_gender_codes

#: One look for every figure, applied while it is drawn (the global rcParams are left alone).
STYLE = {**sns.axes_style("whitegrid"), **sns.plotting_context("notebook", font_scale=0.85)}
GENDER_COLORS = dict(zip(GENDERS, sns.color_palette("colorblind", 2)))
BAR_COLOR = sns.color_palette("colorblind")[2]
HEATMAP_COLORS = "Blues"
DENSITY_COLORS = "viridis"
#: 5-year bins covering every UTKFace age.
AGE_BINS = np.arange(0, MAX_AGE + 5, 5)
#: The curves of a training log: (metric, axis label); each is drawn for train and ``val_``.
CURVES = (("loss", "loss"), ("age_mae", "age MAE (years)"), ("gender_accuracy", "gender accuracy"))


def _styled(draw):
    """Draw under :data:`STYLE`, whatever the caller's rcParams."""

    @functools.wraps(draw)
    def styled(*args, **kwargs):
        with matplotlib.rc_context(STYLE):
            return draw(*args, **kwargs)

    return styled


def _figure(size: tuple[float, float], nrows: int = 1, ncols: int = 1, **options):
    """A new figure (not registered with pyplot) and its axes."""
    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.subplots(nrows, ncols, **options)


def _gender_names(codes) -> pd.Categorical:
    """Gender names for codes 0 / 1, both names always among the categories."""
    return pd.Categorical(np.asarray(GENDERS)[np.asarray(codes, dtype=int)], categories=GENDERS)


def _race_names(codes: pd.Series) -> pd.Series:
    """Race names, "unknown" where the file name carried none."""
    return codes.astype("Int64").map(dict(enumerate(RACES))).astype(object).fillna("unknown")


def _heatmap(ax, frame: pd.DataFrame, fmt: str, **options) -> None:
    sns.heatmap(frame, annot=True, fmt=fmt, cmap=HEATMAP_COLORS, cbar=False, linewidths=0.5, ax=ax, **options)
    ax.tick_params(axis="y", rotation=0)


def _bars(ax, names, heights, labels, colors=BAR_COLOR) -> None:
    """Bars with a label written on each."""
    bars = ax.bar([str(name) for name in names], heights, color=colors)
    ax.bar_label(bars, labels=labels, padding=2, fontsize="small")
    ax.margins(y=0.15)


def _score_bars(ax, groups: dict, key: str, overall: float | None = None, colors=BAR_COLOR) -> None:
    """One bar per group that has images: its ``key`` score, with "n=<images>" written on it."""
    kept = {name: row for name, row in groups.items() if row["n"]}
    if isinstance(colors, dict):
        colors = [colors[name] for name in kept]
    _bars(ax, kept, [row[key] for row in kept.values()], [f"n={row['n']}" for row in kept.values()], colors)
    if overall is not None:
        ax.axhline(overall, color="0.4", linestyle="--", linewidth=1, label="all images")
    if key == "gender_accuracy":
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))


def _image_grid(paths, captions: list[str], columns: int, title: str) -> Figure:
    """Images in a grid, a caption above each."""
    count = len(captions)
    ncols = max(1, min(columns, count))
    nrows = max(1, math.ceil(count / ncols))
    fig, axes = _figure((1.7 * ncols, 2.0 * nrows + 0.4), nrows, ncols, squeeze=False)
    for ax, path, caption in zip_longest(axes.flat, paths, captions):
        ax.axis("off")
        if path is not None:
            ax.imshow(load_image(path))
            ax.set_title(caption, fontsize="small")
    fig.suptitle(title)
    return fig


# --------------------------------------------------------------------------- exploration


@_styled
def age_histogram(table: pd.DataFrame) -> Figure:
    """Images per 5-year age bin, stacked by gender."""
    fig, ax = _figure((8, 3.8))
    frame = pd.DataFrame({"age": table["age"].to_numpy(), "gender": _gender_names(table["gender"])})
    sns.histplot(
        frame, x="age", hue="gender", hue_order=GENDERS, palette=GENDER_COLORS, bins=AGE_BINS, multiple="stack", ax=ax
    )
    ax.set(title=f"Age by gender ({len(table)} images)", xlabel="age (years)", ylabel="images")
    return fig


@_styled
def label_counts(table: pd.DataFrame) -> Figure:
    """Images per gender (left) and per race (right), the count written on each bar."""
    fig, (left, right) = _figure((9, 3.5), ncols=2, width_ratios=(1, 2.5), sharey=True)
    genders = pd.Series(_gender_names(table["gender"])).value_counts().reindex(GENDERS)
    races = _race_names(table["race"]).value_counts().reindex([*RACES, "unknown"], fill_value=0)
    races = races[(races > 0) | (races.index != "unknown")]
    _bars(left, genders.index, genders.to_numpy(), genders.to_numpy(), [GENDER_COLORS[g] for g in GENDERS])
    _bars(right, races.index, races.to_numpy(), races.to_numpy())
    left.set(title="Gender", ylabel="images")
    right.set(title="Race")
    return fig


@_styled
def age_gender_heatmap(table: pd.DataFrame) -> Figure:
    """Images per (age group, gender), counts written in the cells."""
    fig, ax = _figure((4.5, 5.5))
    groups = pd.Categorical(age_group(table["age"]), categories=AGE_GROUP_LABELS)
    counts = pd.crosstab(groups, _gender_names(table["gender"]), dropna=False)
    _heatmap(ax, counts.rename_axis(index="age group", columns="gender"), "d")
    ax.set_title("Images per age group and gender")
    return fig


@_styled
def sample_faces(table: pd.DataFrame, count: int = 16, columns: int = 8, seed: int = 0) -> Figure:
    """A random sample of images (``path`` column) captioned with age, gender and race."""
    rows = table.sample(min(count, len(table)), random_state=seed)
    captions = [
        f"{age}, {gender}\n{race}"
        for age, gender, race in zip(rows["age"], _gender_names(rows["gender"]), _race_names(rows["race"]))
    ]
    return _image_grid(rows["path"], captions, columns, "Sample images with their labels")


# --------------------------------------------------------------------------- training


def read_training_log(source: str | os.PathLike | pd.DataFrame) -> pd.DataFrame:
    """A Keras CSVLogger log, one row per epoch (the last row of an epoch logged twice after a resume).

    An empty file gives an empty table; a log without an ``epoch`` column is numbered 0, 1, ...
    """
    if isinstance(source, pd.DataFrame):
        log = source.copy()
    else:
        try:
            log = pd.read_csv(source)
        except pd.errors.EmptyDataError:
            return pd.DataFrame()
    if "epoch" not in log:
        log["epoch"] = np.arange(len(log))
    return log.drop_duplicates("epoch", keep="last").sort_values("epoch").reset_index(drop=True)


@_styled
def training_curves(log: str | os.PathLike | pd.DataFrame) -> Figure:
    """Loss, age MAE and gender accuracy per epoch (1 = first), train and val; absent curves are left out.

    Raises ``ValueError`` when the log has none of them.
    """
    log = read_training_log(log)
    panels = [(key, label) for key, label in CURVES if {key, f"val_{key}"} & set(log.columns)]
    if log.empty or not panels:
        raise ValueError("the training log has no loss, age_mae or gender_accuracy values")
    fig, axes = _figure((4 * len(panels), 3.5), ncols=len(panels), squeeze=False)
    epochs = log["epoch"] + 1
    for ax, (key, label) in zip(axes.flat, panels):
        for column, name, style in ((key, "train", "-"), (f"val_{key}", "val", "--")):
            if column in log:
                ax.plot(epochs, log[column], style, marker=".", label=name)
        if key == "gender_accuracy":
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set(title=label, xlabel="epoch", xlim=(0.5, epochs.max() + 0.5))  # whole epochs, even for one
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.legend(fontsize="small")
    return fig


# --------------------------------------------------------------------------- evaluation


def predicted_gender(table: pd.DataFrame) -> np.ndarray:
    """Predicted gender codes of a predictions table (0 male, 1 female)."""
    return _predicted_gender_codes(table["p_female"])


@_styled
def gender_confusion(table: pd.DataFrame) -> Figure:
    """True vs predicted gender, counts."""
    fig, ax = _figure((4.2, 3.6))
    counts = pd.crosstab(_gender_names(table["gender"]), _gender_names(predicted_gender(table)), dropna=False)
    _heatmap(ax, counts.rename_axis(index="true", columns="predicted"), "d")
    right = np.trace(counts.to_numpy()) / max(1, len(table))
    ax.set_title(f"Gender: {right:.1%} right of {len(table)}")
    return fig


@_styled
def age_group_confusion_matrix(table: pd.DataFrame) -> Figure:
    """True vs predicted age group; each row (true group, its image count on the label) sums to 100%."""
    fig, ax = _figure((8, 6.5))
    counts = age_group_confusion(table["age"], table["pred_age"])
    totals = counts.sum(axis=1)
    shares = counts.div(totals.replace(0, np.nan), axis=0)
    shares.index = [f"{group} (n={total})" for group, total in totals.items()]
    _heatmap(ax, shares.rename_axis(index="true age group", columns="predicted age group"), ".0%", vmin=0, vmax=1)
    ax.set_title("Age group: true vs predicted (share of each true group)")
    return fig


@_styled
def mae_by_age_group(metrics: dict) -> Figure:
    """Age MAE per true age group, the number of test images written on each bar."""
    fig, ax = _figure((8, 3.8))
    _score_bars(ax, metrics["by_age_group"], "age_mae", metrics["age_mae"])
    ax.set(title="Age MAE per age group", xlabel="true age group", ylabel="MAE (years)")
    ax.legend(loc="best", fontsize="small")
    return fig


@_styled
def predicted_vs_true(table: pd.DataFrame) -> Figure:
    """Predicted against true age as a hexbin density, with the line predicted = true."""
    fig, ax = _figure((5.6, 5))
    hexes = ax.hexbin(table["age"], table["pred_age"], gridsize=40, mincnt=1, cmap=DENSITY_COLORS)
    fig.colorbar(hexes, ax=ax, label="images")
    top = float(max(table["age"].max(), table["pred_age"].max(), 1))
    ax.plot([0, top], [0, top], "--", color="0.3", linewidth=1, label="predicted = true")
    ax.set(
        xlim=(0, top),
        ylim=(0, top),
        aspect="equal",
        title="Predicted vs true age",
        xlabel="true age (years)",
        ylabel="predicted age (years)",
    )
    ax.legend(loc="upper left", fontsize="small")
    return fig


@_styled
def fairness(metrics: dict) -> Figure:
    """Age MAE (top) and gender accuracy (bottom) per race (left) and per gender (right)."""
    fig, axes = _figure((10, 6.5), 2, 2, width_ratios=(3, 1), sharey="row")
    for row, key, title, label in (
        (0, "age_mae", "Age MAE", "MAE (years)"),
        (1, "gender_accuracy", "Gender accuracy", "accuracy"),
    ):
        _score_bars(axes[row, 0], metrics["by_race"], key, metrics[key])
        _score_bars(axes[row, 1], metrics["by_gender"], key, metrics[key], GENDER_COLORS)
        axes[row, 0].set(title=f"{title} per race", ylabel=label)
        axes[row, 1].set(title=f"{title} per gender")
    fig.suptitle("Per race and gender (dashed line: all test images)")
    return fig


def worst_predictions(table: pd.DataFrame, count: int = 12) -> pd.DataFrame:
    """The ``count`` rows with the largest absolute age error, largest first, with an ``error`` column."""
    error = table["pred_age"] - table["age"]
    order = error.abs().sort_values(ascending=False, kind="stable").index[:count]
    return table.assign(error=error).loc[order]


@_styled
def largest_errors(table: pd.DataFrame, count: int = 12, columns: int = 6) -> Figure:
    """The images with the largest age errors: true and predicted age and gender."""
    rows = worst_predictions(table, count)
    detected = rows["face_detected"] if "face_detected" in rows else pd.Series(True, index=rows.index)
    captions = [
        f"true {age}, {gender}\npred {pred:.0f}, {pred_gender}" + ("" if found else "\n(no face found)")
        for age, gender, pred, pred_gender, found in zip(
            rows["age"],
            _gender_names(rows["gender"]),
            rows["pred_age"],
            _gender_names(predicted_gender(rows)),
            detected,
        )
    ]
    return _image_grid(rows["path"], captions, columns, f"The {len(rows)} largest age errors")
