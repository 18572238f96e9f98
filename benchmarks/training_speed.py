"""Training speed of the shipped architecture on this machine, per Keras backend and precision.

    python benchmarks/training_speed.py [--backends tensorflow jax] [--steps 12]

Times the real train step (augmentation inside the model, the compact CNN at 64x64, batch 256,
AdamW) on random crops, in a fresh process per setting: float32, and bfloat16 mixed precision
(does the CPU's avx512_bf16 help?), and gives the seconds an epoch over the shipped model's train
split takes at each rate: the one figure of an epoch's time that the README and notebook 02 quote.
Also times the one-off detect + crop per image. Writes benchmarks/results/training_speed.json.
Backends that are not installed are skipped.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from faceage_lib.inference.modelfiles import verified_model

RESULTS = Path(__file__).resolve().parent / "results"

STEP = """
import sys, time, numpy as np, keras
from faceage_lib.training.augment import Augment
from faceage_lib.training.model import build_model, compile_model
steps, batch, precision = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
if precision == "bfloat16":
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
core = build_model(64)
inputs = keras.Input((64, 64, 3))
model = keras.Model(inputs, core(Augment(seed=0)(inputs)))
compile_model(model, 2e-3)
rng = np.random.default_rng(0)
x = rng.integers(0, 256, (batch * steps, 64, 64, 3)).astype("uint8")
ages = rng.integers(1, 90, batch * steps).astype("float32")
y = {"age_probs": ages, "age": ages, "gender": (ages % 2).astype("float32")}
model.fit(x[: batch * 2], {k: v[: batch * 2] for k, v in y.items()}, batch_size=batch, verbose=0)  # compile
started = time.perf_counter()
model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
print(batch * steps / (time.perf_counter() - started))
"""


def train_rate(backend: str, precision: str, steps: int, batch: int) -> float:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(
        [sys.executable, "-c", STEP, str(steps), str(batch), precision],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.split()[-1])


def crop_rate(count: int = 200) -> float:
    """Detect + crop per second on generated 200x200 photos of the astronaut's face."""
    import numpy as np
    from skimage import data as samples

    from faceage_lib.inference.crop import crop_face
    from faceage_lib.inference.detectors import get_detector

    face = samples.astronaut()[60:260, 125:325]
    detector = get_detector()
    started = time.perf_counter()
    for _ in range(count):
        found = detector.detect(np.ascontiguousarray(face))
        crop_face(face, found[0], 64)
    return count / (time.perf_counter() - started)


def epoch_seconds(rates: dict[str, float], images: int) -> dict[str, int]:
    """Seconds an epoch over ``images`` training images takes at each rate (images/s)."""
    return {setting: round(images / rate) for setting, rate in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax", "torch"])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()

    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "batch": args.batch,
        "detect_and_crop_images_per_s": round(crop_rate(), 1),
        "train_images_per_s": {},
    }
    for backend in args.backends:
        if importlib.util.find_spec(backend) is None:
            continue
        for precision in ("float32", "bfloat16"):
            rate = train_rate(backend, precision, args.steps, args.batch)
            result["train_images_per_s"][f"{backend} {precision}"] = round(rate, 1)
            print(f"{backend:<11} {precision:<9} {rate:7.1f} images/s", flush=True)
    training = verified_model()[1]["training"]
    result["train_split_images"] = (training["ensemble"][0] if "ensemble" in training else training)["train_images"]
    result["epoch_s"] = epoch_seconds(result["train_images_per_s"], result["train_split_images"])
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "training_speed.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
