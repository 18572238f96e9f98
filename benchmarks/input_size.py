"""What a larger input costs per face: the model's time for one face at 64, 96 and 112 px, for the
compact CNN alone, for the ensemble as shipped (the compact CNN and the ResNet-10 averaged in one
``.tflite``, both at that size) and for three networks (two compact CNNs, as two seeds, and the
ResNet-10), with dynamic-range int8 weights, plus the crop's time at that size.

    python benchmarks/input_size.py

Untrained networks (seeded) of the shipped architectures: the time of a LiteRT call does not depend on
the weights' values. One crop at a time, the median of 300 calls at the estimator's thread count, as
benchmarks/tflite_weights.py times them; the crop is cut from the 640x480 astronaut photo's face
(benchmarks/photos.py). Writes benchmarks/results/input_size.json and .md with the load average.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from photos import benchmark_photos  # noqa: E402
from tflite_weights import one_face_ms  # noqa: E402

from faceage_lib.inference.crop import crop_face  # noqa: E402
from faceage_lib.inference.detectors import get_detector  # noqa: E402
from faceage_lib.inference.images import load_image  # noqa: E402
from faceage_lib.inference.runtime import TFLiteModel  # noqa: E402
from faceage_lib.training.backend import keras  # noqa: E402
from faceage_lib.training.ensemble import ensemble_model  # noqa: E402
from faceage_lib.training.export import to_tflite  # noqa: E402
from faceage_lib.training.model import build_model, inference_model  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SIZES = (64, 96, 112)
WEIGHTS = "dynamic-int8"


def crop_ms(image: np.ndarray, face, size: int, calls: int = 300) -> float:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        crop_face(image, face, size)
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def main() -> None:
    keras.utils.set_random_seed(0)
    with tempfile.TemporaryDirectory() as folder:
        image = load_image(benchmark_photos(Path(folder))[0])
    face = get_detector("blazeface").detect(image)[0]
    rows = []
    for size in SIZES:
        compact = build_model(size, "compact")
        resnet = build_model(size, "resnet10")
        ensemble = ensemble_model([compact, resnet], [0.6, 0.4])
        three = ensemble_model([compact, build_model(size, "compact"), resnet], [0.3, 0.3, 0.4])
        row = {"size": size, "crop_ms": crop_ms(image, face, size)}
        for name, network in (("compact", compact), ("ensemble", ensemble), ("three", three)):
            model = TFLiteModel(to_tflite(inference_model(network), WEIGHTS))
            crop = np.random.default_rng(0).uniform(0, 255, (1, size, size, 3)).astype(np.float32)
            row[f"{name}_ms"] = one_face_ms(model, crop)
        rows.append(row)
        print(row, flush=True)
    result = {"weights": WEIGHTS, "load_average_1_min": os.getloadavg()[0], "sizes": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "input_size.json").write_text(json.dumps(result, indent=1) + "\n")
    base = rows[0]
    lines = [
        f"One face, {WEIGHTS} weights (load average {result['load_average_1_min']:.2f}):",
        "",
        "| input | crop | compact CNN | ensemble (compact + ResNet-10) | three networks (2 compact + ResNet-10) "
        "| ensemble against 64 px |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['size']} px | {row['crop_ms']:.3f} ms | {row['compact_ms']:.2f} ms | {row['ensemble_ms']:.2f} ms "
            f"| {row['three_ms']:.2f} ms | {row['ensemble_ms'] / base['ensemble_ms']:.2f}x |"
        )
    (RESULTS / "input_size.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
