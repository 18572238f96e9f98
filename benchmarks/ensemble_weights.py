"""The val MAE of two runs averaged with a weight w for the first, for w from 0.3 to 1: how the
shipped ensemble's weights were chosen (APPA-REAL's and UTKFace's test splits play no part).

    python benchmarks/ensemble_weights.py --run runs/ftD runs/rn10B \
        --data-dir ../shared/utkface ../shared/appa-real [--work-dir DIR]

Uses the runs' ``best.keras`` on the val crops each run validated on (cached crops, photos without
a detected face left out, as in training); the age is the averaged distribution's median,
faceage's estimate (the model card's table of the weights was made with the mean, before 0.4.0).
Prints a Markdown table: the pooled val MAE (what each run chose its epoch by) and each dataset's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from faceage_lib.inference.estimator import age_from_distribution
from faceage_lib.training.model import load_keras_model
from faceage_lib.training.runs import run_val_crops

WEIGHTS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", nargs=2, required=True, help="two training runs' folders")
    parser.add_argument("--data-dir", nargs="+", required=True)
    parser.add_argument("--work-dir", help="manifests and crop caches (default: ~/.cache/faceage)")
    args = parser.parse_args()

    first, second = (Path(run) for run in args.run)
    _, val_rows, crops = run_val_crops(first, args.data_dir, args.work_dir)
    images = crops.astype(np.float32)
    probs = [
        load_keras_model(run / "best.keras").predict(images, batch_size=512, verbose=0)["age_probs"]
        for run in (first, second)
    ]
    ages = val_rows["age"].to_numpy(float)
    sources = val_rows["source"].to_numpy()
    names = list(dict.fromkeys(sources))
    print(f"| w ({first.name}) | val MAE, pooled | " + " | ".join(f"{name} val" for name in names) + " |")
    print("|---" * (2 + len(names)) + "|")
    for weight in WEIGHTS:
        predicted, _, _ = age_from_distribution(weight * probs[0] + (1 - weight) * probs[1], 0.8)
        errors = np.abs(predicted - ages)
        per_source = " | ".join(f"{errors[sources == name].mean():.2f}" for name in names)
        print(f"| {weight:.1f} | {errors.mean():.2f} | {per_source} |")


if __name__ == "__main__":
    main()
