"""Frames per second of the live webcam view's stream handler, on 640x480 frames.

    python benchmarks/webcam.py [--frames 200] [--model models/]

Times what the app does per frame on the server: detect and estimate with the shipped model,
track and smooth (``faceage_lib.app.live.annotate_frame``), and encode the answer as the JPEG
``data:`` URL the page sends back (``jpeg_data_url``). The frames are synthetic: the astronaut
(NASA, public domain, via scikit-image) drifting across a 640x480 background, and an empty
background (no face: the detector's slowest case). Writes benchmarks/results/webcam.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image

from faceage_lib import Predictor
from faceage_lib.app.live import annotate_frame, jpeg_data_url

SIZE = (640, 480)
RESULTS = Path(__file__).resolve().parent / "results"


def face_frames(count: int) -> list[np.ndarray]:
    """The astronaut's head and shoulders (about half the height) moving a few pixels a frame."""
    from skimage import data

    face = Image.fromarray(data.astronaut()).crop((100, 0, 360, 260)).resize((240, 240))
    frames = []
    for index in range(count):
        canvas = Image.new("RGB", SIZE, (70, 90, 110))
        x = 120 + round(100 * np.sin(index / 15))
        canvas.paste(face, (x, 120 + index % 7))
        frames.append(np.asarray(canvas))
    return frames


def time_handler(predictor: Predictor, frames: list[np.ndarray]) -> dict:
    """Milliseconds per frame through the handler and the encoding (after 10 warm-up frames)."""
    tracker = None
    for frame in frames[:10]:
        _, tracker = annotate_frame(predictor, frame, tracker)
    times = []
    for frame in frames:
        started = time.perf_counter()
        annotated, tracker = annotate_frame(predictor, frame, tracker)
        jpeg_data_url(annotated)
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    return {
        "frames": len(frames),
        "median_ms": round(1000 * median, 1),
        "p90_ms": round(1000 * float(np.percentile(times, 90)), 1),
        "fps_median": round(1 / median, 1),
        "tracks_at_end": len(tracker.tracks),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--model", help="model folder (default: the shipped model)")
    args = parser.parse_args()
    predictor = Predictor(args.model)
    empty = [np.full((SIZE[1], SIZE[0], 3), (70, 90, 110), np.uint8)] * args.frames
    result = {
        "frame": f"{SIZE[0]}x{SIZE[1]}",
        "cpus": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 1),
        "one_face": time_handler(predictor, face_frames(args.frames)),
        "no_face": time_handler(predictor, empty),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "webcam.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
