"""The ablation of a model change: each variant's val figures per dataset and per age band, side by
side (APPA-REAL's and UTKFace's test splits play no part; the shipped model's test figures come from
benchmarks/accuracy.py, once).

    python benchmarks/ablation.py --data-dir ../shared/utkface ../shared/appa-real \
        --val-run runs/v0 \
        --model "0.3 compact member=models/model.keras#0" "v0 control=runs/v0" "v1 balance 0.5=runs/v1" \
        --partner "0.3 ResNet-10=models/model.keras#1" --partner-weight 0.4

A model is ``NAME=PATH``: a ``.keras`` file or a training run's folder (its ``best.keras``), with
``#i`` for the i-th member of an ensemble, or ``NAME=PATH+PATH...``: those models' outputs averaged
with equal weights (an ensemble of seeds). With ``--partner``, each model is also averaged with each
partner (the partner's weight ``--partner-weight``), as the shipped ensemble is. Every model sees the
val crops of ``--val-run`` (cached crops, photos without a detected face left out, as in training).
A model's age is its distribution's median, as faceage reports it; ``--estimate median mean`` gives
each variant a row for each (tables made before faceage 0.4.0's median used the mean).
Writes benchmarks/results/ablation.json and ablation.md: per dataset, the MAE, the mean error (bias)
in every band, the share of under-18s estimated 18 or over and the gender accuracy.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from faceage_lib.config import AGE_OF_MAJORITY
from faceage_lib.evaluation.metrics import BIAS_BAND_LABELS, evaluate_predictions
from faceage_lib.inference.estimator import median_age
from faceage_lib.training.model import load_keras_model
from faceage_lib.training.runs import run_val_crops

RESULTS = Path(__file__).resolve().parent / "results"
#: What a run's config says of its recipe, shown beside its name.
RECIPE_KEYS = ("backbone", "img_size", "epochs", "age_balance", "label_sigma_growth", "seed", "init_from")


def load_model(spec: str) -> keras.Model:
    """The Keras model of ``PATH`` or ``PATH#i`` (see the module docstring)."""
    path, _, member = spec.partition("#")
    file = Path(path) / "best.keras" if Path(path).is_dir() else Path(path)
    model = load_keras_model(file)
    if member:
        model = [layer for layer in model.layers if isinstance(layer, keras.Model)][int(member)]
    return model


def recipe(spec: str) -> dict:
    """A run's recipe from its ``config.json`` (empty for a model file)."""
    config = Path(spec.partition("#")[0]) / "config.json"
    if not config.is_file():
        return {}
    settings = json.loads(config.read_text())
    return {key: settings[key] for key in RECIPE_KEYS if key in settings}


def outputs(model: keras.Model, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The age distributions and P(female) of ``images``."""
    out = model.predict(images, batch_size=512, verbose=0)
    return np.asarray(out["age_probs"], np.float64), np.asarray(out["gender"], np.float64).reshape(-1)


def point_estimate(probs: np.ndarray, estimate: str) -> np.ndarray:
    """Each distribution's median (faceage's estimate) or mean."""
    if estimate == "mean":
        return (probs / probs.sum(axis=1, keepdims=True)) @ np.arange(probs.shape[1])
    return median_age(probs)


def figures(val_rows: pd.DataFrame, probs: np.ndarray, p_female: np.ndarray, estimate: str = "median") -> dict:
    """Per dataset: the figures of the module docstring."""
    table = val_rows.assign(pred_age=point_estimate(probs, estimate), p_female=p_female)
    result = {}
    for source, rows in table.groupby("source", sort=False):
        scores = evaluate_predictions(rows.reset_index(drop=True))
        result[source] = {
            "n": scores["n"],
            "age_mae": scores["age_mae"],
            "age_bias": scores["age_bias"],
            "bias_by_band": {band: scores["by_age_band"][band]["age_bias"] for band in BIAS_BAND_LABELS},
            "minors_called_adult": scores["age_thresholds"][f"under_{AGE_OF_MAJORITY}_called_over"],
            "gender_accuracy": scores.get("gender_accuracy"),
        }
    return result


def signed(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:+.{digits}f}"


def percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}%"


def markdown(rows: list[dict]) -> str:
    """One table per dataset: a row per variant."""
    lines = []
    for source in rows[0]["val"]:
        lines += [
            f"**{source} val** ({rows[0]['val'][source]['n']} faces): mean error per age band, years",
            "",
            "| variant | MAE | bias | " + " | ".join(BIAS_BAND_LABELS) + " | under-18s called 18+ | gender |",
            "|---" * (5 + len(BIAS_BAND_LABELS)) + "|",
        ]
        for row in rows:
            f = row["val"][source]
            cells = [row["name"], f"{f['age_mae']:.2f}", signed(f["age_bias"], 2)]
            cells += [signed(f["bias_by_band"][band]) for band in BIAS_BAND_LABELS]
            cells += [percent(f["minors_called_adult"]), percent(f["gender_accuracy"])]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", nargs="+", required=True)
    parser.add_argument("--val-run", required=True, help="the training run whose val crops every model sees")
    parser.add_argument("--model", nargs="+", required=True, help="NAME=PATH[#member], one per variant")
    parser.add_argument(
        "--partner", nargs="*", default=[], help="NAME=PATH[#member]: each variant is also averaged with each of these"
    )
    parser.add_argument("--partner-weight", type=float, default=0.4)
    parser.add_argument(
        "--estimate", nargs="+", choices=("median", "mean"), default=["median"], help="the age: a row for each"
    )
    parser.add_argument("--work-dir", help="manifests and crop caches (default: ~/.cache/faceage)")
    parser.add_argument("--out", default="ablation", help="results/OUT.json and .md (default: ablation)")
    args = parser.parse_args()

    _, val_rows, crops = run_val_crops(args.val_run, args.data_dir, args.work_dir)
    images = {crops.shape[1]: crops.astype(np.float32)}

    def run(spec: str) -> tuple[np.ndarray, np.ndarray]:
        """A model's outputs on the val crops of its own size (a run of another size: that run's crops);
        of ``A+B...``, the models' outputs averaged."""
        if "+" in spec:
            probs, p_female = zip(*(run(part) for part in spec.split("+")))
            return np.mean(probs, axis=0), np.mean(p_female, axis=0)
        model = load_model(spec)
        size = int(model.inputs[0].shape[1])
        if size not in images:
            _, rows, other = run_val_crops(spec.partition("#")[0], args.data_dir, args.work_dir)
            if not rows.index.equals(val_rows.index):
                raise SystemExit(f"{spec} validated on other photos than {args.val_run}")
            images[size] = other.astype(np.float32)
        return outputs(model, images[size])

    partners = []
    for entry in args.partner:
        partner_name, _, partner_spec = entry.partition("=")
        partners.append((partner_name, entry, run(partner_spec)))
    rows = []
    w = args.partner_weight
    for entry in args.model:
        name, _, spec = entry.partition("=")
        probs, p_female = run(spec)
        variants = [(name, probs, p_female, {"model": spec, "recipe": recipe(spec)})]
        for p_name, p_entry, (p_probs, p_p_female) in partners:
            mixed = (1 - w) * probs + w * p_probs, (1 - w) * p_female + w * p_p_female
            variants.append((f"{name} + {p_name} ({w:g})", *mixed, {"model": spec, "partner": p_entry}))
        for estimate in args.estimate:
            suffix = f", {estimate}" if len(args.estimate) > 1 else ""
            for v_name, v_probs, v_p_female, about in variants:
                val = figures(val_rows, v_probs, v_p_female, estimate)
                rows.append({"name": v_name + suffix, **about, "estimate": estimate, "val": val})
        print(name, {source: round(f["age_mae"], 3) for source, f in rows[-1]["val"].items()}, flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps({"val_run": args.val_run, "variants": rows}, indent=1) + "\n")
    (RESULTS / f"{args.out}.md").write_text(markdown(rows))
    print(markdown(rows))


if __name__ == "__main__":
    main()
