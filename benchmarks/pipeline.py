"""Throughput of the training input pipeline, against the model's own training speed.

    python benchmarks/pipeline.py --data-dir ../shared/utkface

The pipeline (cached crops -> shuffle -> batch -> augment -> prefetch) must feed the model
faster than the model trains, so the CPU cores work on the model, not on JPEG decoding.
Also times the one-off crop cache build per image. Writes benchmarks/results/pipeline.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--work-dir", help="manifest and crop cache (default: ~/.cache/faceage)")
    parser.add_argument("--img-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=40)
    args = parser.parse_args()

    from faceage_lib.config import cache_home
    from faceage_lib.training.crops import build_crops, load_or_build_crops
    from faceage_lib.training.feed import make_dataset
    from faceage_lib.training.model import build_model, compile_model
    from faceage_lib.training.utkface import load_utkface

    dataset = load_utkface(args.data_dir, args.work_dir)
    sample = list(dataset.table["path"].head(300))
    started = time.perf_counter()
    build_crops(sample, args.img_size, progress=False)
    crop_rate = len(sample) / (time.perf_counter() - started)

    train = dataset.split("train")
    crops = load_or_build_crops(dataset.table, args.img_size, args.work_dir or cache_home()).rows(train)
    stream = make_dataset(crops, train["age"], train["gender"], 128, training=True)
    images, started = 0, time.perf_counter()
    for batch, _ in stream.take(args.batches):
        images += int(batch.shape[0])
    pipeline_rate = images / (time.perf_counter() - started)

    model = compile_model(build_model(args.img_size), 1e-3)
    model.fit(stream.take(3), verbose=0)
    started = time.perf_counter()
    model.fit(stream.take(10), verbose=0)
    train_rate = 10 * 128 / (time.perf_counter() - started)

    result = {"detect_and_crop_images_per_s": crop_rate, "pipeline_images_per_s": pipeline_rate,
              "model_training_images_per_s": train_rate, "img_size": args.img_size}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "pipeline.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
