"""What ``Predictor.predict`` answers to awkward and hostile inputs, how long it takes (wall and CPU),
its peak memory, and how long a normal photo waits meanwhile.

Each case is a file made here from public-domain material (the astronaut of ``skimage.data``) and
runs in its own process, so that its peak resident memory (VmHWM, the model loaded included)
is its own. While it runs, the same process answers a normal photo (the astronaut, 512 x 512) from
another thread, as the app would for another user, and its latency is recorded.

    python benchmarks/reliability.py     # writes benchmarks/results/reliability.json and .md
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
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
    canvas[(height - side) // 2 : (height - side) // 2 + side, (width - side) // 3 : (width - side) // 3 + side] = (
        cv2.resize(samples.astronaut(), (side, side), interpolation=cv2.INTER_CUBIC)
    )
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


def _with_scans(jpeg: bytes, total: int) -> bytes:
    """A progressive ``jpeg`` with copies of its smallest scan until it holds ``total`` scans."""
    starts = [i for i in range(len(jpeg) - 1) if jpeg[i : i + 2] == b"\xff\xda"]
    scans = [jpeg[start:end] for start, end in zip(starts, starts[1:] + [len(jpeg) - 2])]
    smallest = min(scans, key=len)
    return jpeg[:-2] + smallest * max(0, total - len(scans)) + jpeg[-2:]


def _png_header(width: int, height: int, filler: int) -> bytes:
    """A PNG that says ``width`` x ``height`` and holds ``filler`` bytes of compressed zeros."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * filler * 1000, 9))
        + chunk(b"IEND", b"")
    )


def _broken_qoi() -> bytes:
    """A 200-byte QOI whose header promises more than it holds (Pillow's reader raised on it)."""
    return b"qoif" + struct.pack(">II", 4000, 4000) + bytes([3, 0]) + bytes(range(186))


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
        "twenty faces (1600x1280, 60 px)": (
            "group.jpg",
            _encoded(Image.fromarray(group_photo(1600, 1280, 5, 4, 60).image), "JPEG", quality=90),
        ),
        "grayscale": ("gray.png", _encoded(astronaut.convert("L"), "PNG")),
        "RGBA": ("rgba.png", _encoded(astronaut.convert("RGBA"), "PNG")),
        "EXIF-rotated (orientation 6)": ("turned.jpg", _exif_rotated()),
        "16-bit grayscale PNG": ("gray16.png", _encoded(Image.fromarray(gray16), "PNG")),
        "animated GIF (astronaut, then cat)": ("animated.gif", _animated_gif()),
        # hostile inputs (issue 17)
        "looping EPS named .jpg (66 bytes)": (
            "loop.jpg",
            b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n{ } loop\nshowpage\n",
        ),
        "broken QOI named .jpg (200 bytes)": ("broken.jpg", _broken_qoi()),
        "ICO named .jpg": ("icon.jpg", _encoded(astronaut.resize((256, 256)), "ICO", sizes=[(256, 256)])),
        "8000x8000 progressive JPEG, 20,000 scans": (
            "scans.jpg",
            _with_scans(_encoded(Image.new("L", (8000, 8000), 128), "JPEG", progressive=True), 20_000),
        ),
        "8000x8000 progressive JPEG, 50 scans (the limit)": (
            "scans50.jpg",
            _with_scans(_encoded(Image.new("L", (8000, 8000), 128), "JPEG", progressive=True), 50),
        ),
        "PNG of 13000x13000 (169 MP) header": ("big.png", _png_header(13_000, 13_000, 500)),
        "8000x8000 WebP (64 MP)": (
            "big.webp",
            _encoded(Image.new("RGB", (8000, 8000), (90, 100, 110)), "WEBP", quality=50),
        ),
        "6000x4000 WebP (24 MP, the WebP limit)": (
            "limit.webp",
            _encoded(_astronaut_in(6000, 4000), "WEBP", quality=80),
        ),
        "8000x8000 GIF (64 MP)": ("big.gif", _encoded(Image.new("P", (8000, 8000), 3), "GIF")),
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
    normal = samples.astronaut()
    predictor.predict(normal)  # warm, as a running app is
    outcome: dict = {}

    def abuse() -> None:
        start, cpu = time.perf_counter(), time.process_time()  # LiteRT's threads included
        try:
            faces = predictor.predict(path)
            outcome["answer"] = f"{len(faces)} face(s)" + "".join(f"; {f.label} at {list(f.box)}" for f in faces[:2])
        except FaceAgeError as exc:
            outcome["answer"] = f"{type(exc).__name__}: {exc}".replace(str(path), path.name)
        outcome["seconds"] = round(time.perf_counter() - start, 3)
        outcome["cpu_s"] = round(time.process_time() - cpu, 3)

    worker = threading.Thread(target=abuse)
    worker.start()
    time.sleep(0.01)
    start = time.perf_counter()
    predictor.predict(normal)
    normal_s = time.perf_counter() - start
    worker.join()
    return {**outcome, "peak_rss_mb": _peak_rss_mb(), "normal_photo_s": round(normal_s, 3)}


def _peak_rss_mb() -> int:
    """This process's peak resident memory: VmHWM, which (unlike getrusage's max RSS) does not
    carry the parent's peak over fork and exec; getrusage where /proc is missing."""
    status = Path("/proc/self/status")
    if status.is_file():
        line = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM:"))
        return round(int(line.split()[1]) / 1024)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def markdown(rows: list[dict]) -> str:
    lines = [
        "# Awkward and hostile inputs through Predictor.predict",
        "",
        "`python benchmarks/reliability.py`: each input in a fresh process; a normal photo (512 x 512, one "
        "face) is predicted from another thread 10 ms after the input starts. CPU s: the process's while the "
        "input is answered (the normal photo's, about 0.05 s, included).",
        "",
        "| input | answer | seconds | CPU s | peak RSS (MB) | normal photo meanwhile (s) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['input']} | {r['answer']} | {r['seconds']:.3f} | {r['cpu_s']:.3f} | {r['peak_rss_mb']} "
        f"| {r['normal_photo_s']:.3f} |"
        for r in rows
    ]
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
            done = subprocess.run(
                [sys.executable, __file__, "--case", str(path)], capture_output=True, text=True, check=True
            )
            rows.append({"input": name, **json.loads(done.stdout.splitlines()[-1])})
            print(json.dumps(rows[-1]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "reliability.json").write_text(json.dumps(rows, indent=1) + "\n")
    (args.out / "reliability.md").write_text(markdown(rows))


if __name__ == "__main__":
    main()
