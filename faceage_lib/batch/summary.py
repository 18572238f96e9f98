"""``faceage summarize``: what a results file says about the people in a corpus, and how far to trust it.

Reads any output of ``faceage predict`` (json, jsonl, csv, a Parquet file or a Ray job's folder) into one
row per face (and one per photo without a face), then counts faces, photos without a face and failed photos,
the age distribution by gender and the share of uncertain genders, overall and per path component, with the
shipped model's measured age error per age group beside the distribution.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pandas as pd

from ..config import AGE_GROUP_LABELS, age_group, model_dir
from ..inference.modelfiles import MEASURED
from .formats import csv_path

GENDER_COLUMNS = ("female", "male", "uncertain")
#: Where measured figures of the shipped model may be, after the model folder's own ``*.json`` files.
BENCHMARK_RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "accuracy.json"


def load_results(path: str | os.PathLike) -> pd.DataFrame:
    """One row per face (``face`` set) or per photo without one: ``path``, ``face``, ``age``, ``gender``, ``error``."""
    path = Path(path)
    columns = ["path", "face", "age", "gender", "error"]
    if path.is_dir() or path.suffix == ".parquet":
        return pd.read_parquet(path, columns=columns)
    if path.suffix == ".csv":
        frame = pd.read_csv(
            path,
            usecols=columns,
            dtype={"path": str, "gender": str, "error": str},
            keep_default_na=False,
            na_values={"face": [""], "age": [""]},
        )
        frame["path"] = frame["path"].map(csv_path)
        frame["error"] = frame["error"].where(frame["error"] != "", None)
        return frame
    with path.open(encoding="utf-8") as lines:
        records = json.load(lines) if path.suffix == ".json" else (json.loads(line) for line in lines if line.strip())
        rows = [row for record in records for row in _record_rows(record)]
    return pd.DataFrame(rows, columns=columns)


def _record_rows(record: dict) -> list[dict]:
    base = {"path": record["path"], "error": record.get("error")}
    return [
        {**base, "face": face.get("face", number), "age": face["age"], "gender": face["gender"]}
        for number, face in enumerate(record["faces"], 1)
    ] or [base]


def group_key(frame: pd.DataFrame, group_by: str) -> pd.Series:
    """The path component to group by: ``parent`` (the photo's folder) or a part's index (0 first, -2 the folder)."""
    parts = frame["path"].map(lambda p: Path(p).parts)
    if group_by == "parent":
        return parts.map(lambda p: p[-2] if len(p) > 1 else ".")
    index = int(group_by)
    return parts.map(lambda p: p[index] if -len(p) <= index < len(p) else "(none)")


def distribution(frame: pd.DataFrame) -> pd.DataFrame:
    """Faces per age group (rows, every group) and gender (columns: female, male, uncertain, all)."""
    faces = frame[frame["face"].notna()]
    counts = pd.crosstab(
        pd.Categorical(age_group(faces["age"]), AGE_GROUP_LABELS),
        pd.Categorical(faces["gender"], GENDER_COLUMNS),
        dropna=False,
    )
    counts.index.name, counts.columns.name = "age group", None
    counts = counts.reindex(index=list(AGE_GROUP_LABELS), columns=list(GENDER_COLUMNS), fill_value=0)
    counts["all"] = counts.sum(axis=1)
    return counts


def measured_age_errors(model: str | os.PathLike | None = None) -> dict[str, float] | None:
    """The model's measured age MAE per age group, from its folder's ``measured.json`` (or the benchmark's
    results in a checkout); None where none is found for this model (figures of another model are ignored)."""
    folder = Path(model) if model else model_dir()
    try:
        sha = json.loads((folder / "manifest.json").read_text())["files"]["model.tflite"]["sha256"]
    except (OSError, ValueError, KeyError):
        sha = None
    for candidate in (folder / MEASURED, BENCHMARK_RESULTS):
        try:
            figures = json.loads(candidate.read_text())
        except (OSError, ValueError):
            continue
        groups = figures.get("faceage", figures).get("by_age_group") if isinstance(figures, dict) else None
        if isinstance(groups, dict) and figures.get("model_sha256", sha) == sha:
            return {group: values["age_mae"] for group, values in groups.items() if "age_mae" in values}
    return None


def describe(frame: pd.DataFrame, errors: dict[str, float] | None) -> str:
    """Counts, the distribution table (with the measured error per age group) and the uncertain share."""
    photos = frame.groupby("path", sort=False).agg(faces=("face", "count"), error=("error", "first"))
    failed = int(photos["error"].notna().sum())
    faces = int(photos["faces"].sum())
    table = distribution(frame)
    if errors:
        table["model MAE (years)"] = [f"{errors[g]:.1f}" if g in errors else "" for g in table.index]
    uncertain = table["uncertain"].sum() / faces if faces else 0.0
    no_face = int(((photos["faces"] == 0) & photos["error"].isna()).sum())
    lines = [
        f"photos {len(photos)}, faces {faces}, photos without a face {no_face}, photos not read {failed}",
        table.to_string(),
        f"uncertain gender: {uncertain:.1%} of faces",
    ]
    return "\n".join(lines)


def summarize(frame: pd.DataFrame, group_by: str | None = None, model: str | None = None) -> str:
    """The text ``faceage summarize`` prints for the rows of :func:`load_results`."""
    errors = measured_age_errors(model)
    blocks = [describe(frame, errors)]
    if group_by is not None:
        for name, group in frame.groupby(group_key(frame, group_by), sort=True):
            blocks.append(f"--- {name}\n" + describe(group, errors))
    note = (
        "model MAE: the mean age error measured on the UTKFace test split, per true age group"
        if errors
        else "model MAE: no measured figures found for this model"
    )
    return "\n\n".join(blocks) + "\n\n" + note


#: The most groups ``--plot`` draws a panel for (the largest, by faces), after the panel of all faces.
MAX_PLOTTED_GROUPS = 12
GENDER_COLORS = ["#d1495b", "#00798c", "#b8b8b8"]


def plot_distribution(frame: pd.DataFrame, out: str | os.PathLike, group_by: str | None = None) -> list[str]:
    """Faces per age group and gender as a bar chart, saved to ``out`` (needs matplotlib): one panel of all
    faces and, with ``group_by``, one per group (the :data:`MAX_PLOTTED_GROUPS` with the most faces, named
    in order, each with its own scale). Returns the groups drawn."""
    from ..errors import FaceAgeError

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise FaceAgeError("--plot needs matplotlib (pip install matplotlib)") from None
    panels = [("all faces" if group_by is not None else "", frame)]
    drawn: list[str] = []
    left_out = 0
    if group_by is not None:
        groups = dict(list(frame.groupby(group_key(frame, group_by), sort=True)))
        faces = {name: int(group["face"].notna().sum()) for name, group in groups.items()}
        largest = sorted(groups, key=lambda name: (-faces[name], str(name)))[:MAX_PLOTTED_GROUPS]
        drawn = sorted(largest, key=str)
        left_out = len(groups) - len(drawn)
        panels += [(f"{name} ({faces[name]} faces)", groups[name]) for name in drawn]
    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(8 if columns == 1 else 5 * columns, 4 * rows), squeeze=False, layout="constrained"
    )
    for (title, part), panel in zip(panels, axes.flat):
        table = distribution(part)[list(GENDER_COLUMNS)]
        table.plot.bar(ax=panel, rot=0, color=GENDER_COLORS, legend=panel is axes.flat[0])
        panel.set(xlabel="age group", ylabel="faces", title=title)
        panel.tick_params(axis="x", labelsize=8 if columns > 1 else 10)
    for panel in list(axes.flat)[len(panels) :]:
        panel.set_visible(False)
    title = "Faces by age group and gender"
    if group_by is not None:
        title += f", per {'folder' if group_by == 'parent' else f'path part {group_by}'}"
        if left_out:
            title += f" (the {len(drawn)} groups with the most faces; {left_out} more not drawn)"
    figure.suptitle(title)
    figure.savefig(out, dpi=100 if len(panels) > 1 else 120)
    plt.close(figure)
    return [str(name) for name in drawn]
