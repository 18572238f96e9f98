"""What ``Predictor.predict`` answers to awkward inputs, how long it takes, and its peak memory.

Each case is a file made here from public-domain material (the astronaut of ``skimage.data``) and
runs in its own process, so that its peak resident memory (VmHWM, the model loaded included)
is its own.

    python benchmarks/reliability.py     # writes benchmarks/results/reliability.json and .md
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage import data as samples

sys.path.insert(0, str(Path(__file__).parent))
from detector import group_photo  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def _astronaut_in(width: int, height: int) -> Image.Image:
    """The astronaut scaled to 60% of the height on a grey photo of ``width`` x ``height``."""
    canvas = np.full((height, width, 3), 128, np.uint8)
    side = height * 6 // 10
    canvas[(height - side) // 2:(height - side) // 2 + side, (width - side) // 3:(width - side) // 3 + side] = \
        cv2.resize(samples.astronaut(), (side, side), interpolation=cv2.INTER_CUBIC)
    return Image.fromarray(canvas)


def _exif_rotated() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned 90 degrees clockwise: stored turned the other way
    buffer = io.BytesIO()
    Image.fromarray(samples.astronaut()).rotate(90, expand=True).save(buffer, "JPEG", quality=90, exif=exif.tobytes())
    return buffer.getvalue()


def _animated_gif() -> bytes:
    frames = [Image.fromarray(samples.astronaut()), Image.fromarray(samples.chelsea()).resize((512, 512))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=200, loop=0)
    return buffer.getvalue()


def _encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def make_cases(folder: Path) -> dict[str, Path]:
    """Write every case's file into ``folder``; returns name -> path."""
    astronaut = Image.fromarray(samples.astronaut())
    jpeg = _encoded(astronaut, "JPEG", quality=90)
    gray16 = np.asarray(astronaut.convert("L"), np.uint16) * 257
    contents = {
        "not an image (text)": ("notes.jpg", b"this is not a photo"),
        "truncated JPEG": ("cut.jpg", jpeg[: len(jpeg) // 2]),
        "64 MP JPEG (9236x6928, one face)": ("huge.jpg", _encoded(_astronaut_in(9236, 6928), "JPEG", quality=90)),
        "strip 64,000,000x1 PNG": ("strip.png", _encoded(Image.new("L", (64_000_000, 1), 90), "PNG")),
        "strip 35760x1788 (20:1, 64 MP)": ("wide.png", _encoded(Image.new("L", (35_760, 1_788), 90), "PNG")),
        "no face (cat)": ("cat.jpg", _encoded(Image.fromarray(samples.chelsea()), "JPEG", quality=90)),
        "twenty faces (1600x1280, 60 px)": ("group.jpg", _encoded(Image.fromarray(
            group_photo(1600, 1280, 5, 4, 60).image), "JPEG", quality=90)),
        "grayscale": ("gray.png", _encoded(astronaut.convert("L"), "PNG")),
        "RGBA": ("rgba.png", _encoded(astronaut.convert("RGBA"), "PNG")),
        "EXIF-rotated (orientation 6)": ("turned.jpg", _exif_rotated()),
        "16-bit grayscale PNG": ("gray16.png", _encoded(Image.fromarray(gray16), "PNG")),
        "animated GIF (astronaut, then cat)": ("animated.gif", _animated_gif()),
    }
    paths = {}
    for name, (filename, content) in contents.items():
        paths[name] = folder / filename
        paths[name].write_bytes(content)
    return paths


def run_case(path: Path) -> dict:
    """In this process: predict on ``path``; the answer, its time and the peak memory."""
    from faceage_lib import Predictor
    from faceage_lib.errors import FaceAgeError

    predictor = Predictor(num_threads=2)
    start = time.perf_counter()
    try:
        faces = predictor.predict(path)
        answer = f"{len(faces)} face(s)" + "".join(f"; {f.label} at {list(f.box)}" for f in faces[:2])
    except FaceAgeError as exc:
        answer = f"{type(exc).__name__}: {exc}".replace(str(path), path.name)
    seconds = time.perf_counter() - start
    return {"answer": answer, "seconds": round(seconds, 3), "peak_rss_mb": _peak_rss_mb()}


def _peak_rss_mb() -> int:
    """This process's peak resident memory: VmHWM, which (unlike getrusage's max RSS) does not
    carry the parent's peak over fork and exec; getrusage where /proc is missing."""
    status = Path("/proc/self/status")
    if status.is_file():
        line = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM:"))
        return round(int(line.split()[1]) / 1024)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def markdown(rows: list[dict]) -> str:
    lines = ["# Awkward inputs through Predictor.predict", "",
             "| input | answer | seconds | peak RSS (MB) |", "|---|---|---:|---:|"]
    lines += [f"| {r['input']} | {r['answer']} | {r['seconds']:.3f} | {r['peak_rss_mb']} |" for r in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", type=Path, help=argparse.SUPPRESS)  # internal: run one case here
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case)))
        return
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, path in make_cases(Path(folder)).items():
            done = subprocess.run([sys.executable, __file__, "--case", str(path)], capture_output=True, text=True,
                                  check=True)
            rows.append({"input": name, **json.loads(done.stdout.splitlines()[-1])})
            print(json.dumps(rows[-1]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "reliability.json").write_text(json.dumps(rows, indent=1) + "\n")
    (args.out / "reliability.md").write_text(markdown(rows))


if __name__ == "__main__":
    main()
