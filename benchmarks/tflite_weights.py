"""What each way of storing a model's ``.tflite`` weights costs: file size, one face's model time and
the val figures (float32, float16, dynamic-int8; see faceage_lib.config.TFLITE_WEIGHTS).

    python benchmarks/tflite_weights.py --model models/model.keras --val-run runs/v0 \
        --data-dir ../shared/utkface ../shared/appa-real

Converts the Keras model each way, runs every conversion on the val crops of ``--val-run`` (as
benchmarks/ablation.py does) and on one crop at a time (median of 300 calls, the estimator's thread
count). Writes benchmarks/results/tflite_weights.json and .md. The issue's bar: a kind of weights is
used only where the val MAE moves less than 0.05 years.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

from faceage_lib.config import TFLITE_WEIGHTS
from faceage_lib.inference.estimator import age_from_distribution
from faceage_lib.inference.runtime import TFLiteModel
from faceage_lib.training.export import to_tflite
from faceage_lib.training.model import inference_model, load_keras_model
from faceage_lib.training.runs import run_val_crops

RESULTS = Path(__file__).resolve().parent / "results"


def one_face_ms(model: TFLiteModel, crop: np.ndarray, calls: int = 300) -> float:
    model.run(crop)
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        model.run(crop)
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/model.keras")
    parser.add_argument("--val-run", required=True, help="the training run whose val crops are used")
    parser.add_argument("--data-dir", nargs="+", required=True)
    parser.add_argument("--work-dir")
    args = parser.parse_args()

    _, val_rows, crops = run_val_crops(args.val_run, args.data_dir, args.work_dir)
    images = crops.astype(np.float32)
    ages, sources = val_rows["age"].to_numpy(float), val_rows["source"].to_numpy()
    genders = val_rows["gender"].to_numpy(float)
    labelled = ~np.isnan(genders)
    keras_model = inference_model(load_keras_model(args.model))
    rows, reference = [], None
    for weights in TFLITE_WEIGHTS:
        data = to_tflite(keras_model, weights)
        model = TFLiteModel(data)
        batches = [next(iter(model.run(images[i : i + 256]).values())) for i in range(0, len(images), 256)]
        outputs = np.concatenate(batches)
        reference = outputs if reference is None else reference
        predicted = age_from_distribution(outputs[:, :-1].astype(np.float64), 0.8)[0]
        errors = np.abs(predicted - ages)
        rows.append(
            {
                "weights": weights,
                "bytes": len(data),
                "one_face_ms": one_face_ms(model, images[:1]),
                "val_mae": {source: float(errors[sources == source].mean()) for source in dict.fromkeys(sources)},
                "val_gender_accuracy": float(((outputs[:, -1] >= 0.5) == (genders == 1))[labelled].mean()),
                "largest_output_difference_to_float32": float(np.abs(outputs - reference).max()),
            }
        )
        print(rows[-1], flush=True)
    result = {"model": args.model, "val_run": args.val_run, "load_average_1_min": os.getloadavg()[0], "kinds": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "tflite_weights.json").write_text(json.dumps(result, indent=1) + "\n")
    sources_seen = list(rows[0]["val_mae"])
    lines = [
        "| weights | file | one face, model only | " + " | ".join(f"{s} val MAE" for s in sources_seen) + " | gender |",
        "|---" * (4 + len(sources_seen)) + "|",
    ]
    for row in rows:
        maes = " | ".join(f"{row['val_mae'][s]:.3f}" for s in sources_seen)
        lines.append(
            f"| {row['weights']} | {row['bytes'] / 1e6:.1f} MB | {row['one_face_ms']:.2f} ms | {maes} "
            f"| {100 * row['val_gender_accuracy']:.2f}% |"
        )
    (RESULTS / "tflite_weights.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
