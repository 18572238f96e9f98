"""Crop version 2 against version 1: how long a crop takes, and what the change does to the model.

    python benchmarks/crop_downsample.py --data-dir ../shared/utkface ../shared/appa-real

Version 1 downsampled a face more than twice the crop's size with one fractional area resize
(``cv2.INTER_AREA``, OpenCV's slow path); version 2 halves it by area, then resizes the rest
bilinearly (:func:`faceage_lib.inference.crop._downsample`). This script cuts every crop the
shipped model takes both ways: (1) the median time of each crop on the 50 latency photos (640x480,
one face); (2) on each dataset's val split (never test), the shipped model's MAE, mean error and
gender accuracy from each version's crops, how far the ages move between them and how far the
crops' pixels do. Writes benchmarks/results/crop_downsample.json and .md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import cv2
import numpy as np

from faceage_lib.data.crops import load_or_build_crops
from faceage_lib.data.sources import load_datasets
from faceage_lib.evaluation.evaluate import predict_split
from faceage_lib.evaluation.metrics import evaluate_predictions
from faceage_lib.inference import crop as crop_module
from faceage_lib.inference.crop import crop_face
from faceage_lib.inference.detectors import get_detector
from faceage_lib.inference.estimator import AgeGenderEstimator
from faceage_lib.inference.images import load_image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from photos import benchmark_photos  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def version_1_downsample(region: np.ndarray, shrink: float) -> tuple[np.ndarray, float, float]:
    """What crop version 1 did: one area resize by the fractional factor."""
    size = tuple(max(1, round(side * shrink)) for side in region.shape[1::-1])
    small = cv2.resize(region, size, interpolation=cv2.INTER_AREA)
    return small, small.shape[1] / region.shape[1], small.shape[0] / region.shape[0]


@contextmanager
def crop_version(version: int):
    """Crops cut as ``version`` (1 or 2) inside the block."""
    if version == 1:
        with mock.patch.object(crop_module, "_downsample", version_1_downsample):
            yield
    else:
        yield


def crop_times(estimator: AgeGenderEstimator, photos: list[Path]) -> dict:
    """Median ms of each crop the model takes, per version, on the photos' largest faces."""
    detector = get_detector()
    faces = [(image, found[0]) for image in map(load_image, photos) if (found := detector.detect(image))]
    times = {}
    for version in (1, 2):
        with crop_version(version):
            for spec in estimator.crops:
                samples = []
                for _ in range(5):
                    for image, face in faces:
                        started = time.perf_counter()
                        crop_face(image, face, spec)
                        samples.append(time.perf_counter() - started)
                times[f"v{version} {spec.size}px {spec.align}"] = 1000 * statistics.median(samples)
    return times


def val_figures(estimator: AgeGenderEstimator, data_dirs: list[str]) -> dict:
    """Per dataset: each version's val figures, and how far ages and crops move between versions."""
    figures = {}
    with tempfile.TemporaryDirectory() as folder:
        datasets = load_datasets(data_dirs, Path(folder) / "datasets")
        for dataset in datasets:
            tables, crops, specs = {}, {}, estimator.crops
            for version in (1, 2):
                work = Path(folder) / f"v{version}"  # each version its own crop cache
                with crop_version(version):
                    tables[version], _ = predict_split(dataset, estimator, "val", work, progress=False)
                    rows = dataset.split("val")
                    crops[version] = {spec: load_or_build_crops(rows, spec, work, False).crops for spec in specs}
            bar = estimator.gender_min_confidence
            scores = {f"v{v}": evaluate_predictions(table, bar) for v, table in tables.items()}
            moved = np.abs(tables[2]["pred_age"].to_numpy() - tables[1]["pred_age"].to_numpy())
            figures[dataset.name] = {
                "images": len(tables[2]),
                **{
                    version: {key: score.get(key) for key in ("age_mae", "age_bias", "gender_accuracy")}
                    for version, score in scores.items()
                },
                "age_moved_mean": float(moved.mean()),
                "age_moved_max": float(moved.max()),
                "pixels_moved_mean": {
                    f"{spec.size}px {spec.align}": float(np.abs(crops[2][spec].astype(int) - crops[1][spec]).mean())
                    for spec in estimator.crops
                },
            }
    return figures


def markdown(result: dict) -> str:
    lines = ["# Crop version 2 against version 1 (shipped model; val splits)", ""]
    lines += ["| crop | median ms |", "|---|---:|"]
    lines += [f"| {name} | {ms:.3f} |" for name, ms in result["crop_ms"].items()]
    lines += [
        "",
        "| val split | images | MAE v1 | MAE v2 | mean error v1 | mean error v2 | gender v1 | gender v2 "
        "| age moved, mean / max | pixels moved (mean grey levels) |",
    ]
    lines += ["|---|---:|---:|---:|---:|---:|---:|---:|---|---|"]

    def percent(value):
        return "-" if value is None else f"{100 * value:.2f}%"

    for name, row in result["val"].items():
        v1, v2 = row["v1"], row["v2"]
        pixels = ", ".join(f"{crop}: {value:.2f}" for crop, value in row["pixels_moved_mean"].items())
        lines.append(
            f"| {name} | {row['images']} | {v1['age_mae']:.4f} | {v2['age_mae']:.4f} | {v1['age_bias']:+.3f} | "
            f"{v2['age_bias']:+.3f} | {percent(v1['gender_accuracy'])} | {percent(v2['gender_accuracy'])} | "
            f"{row['age_moved_mean']:.3f} / {row['age_moved_max']:.2f} | {pixels} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", nargs="+", required=True, help="datasets, as faceage train takes them")
    args = parser.parse_args()
    estimator = AgeGenderEstimator()
    with tempfile.TemporaryDirectory() as folder:
        photos = benchmark_photos(Path(folder), args.data_dir[0])
        result = {"crop_ms": crop_times(estimator, photos), "val": val_figures(estimator, args.data_dir)}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "crop_downsample.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "crop_downsample.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
