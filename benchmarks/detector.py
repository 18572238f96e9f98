"""Face detection in group photos: recall, false boxes and time per photo.

Group photos are composed from public-domain faces: the astronaut of ``skimage.data.astronaut()``
(NASA, public domain) as head-and-shoulders squares, varied by mirroring, grayscale, swapped colour
channels and brightness, placed one per cell of a grid (with a random offset) on a blurred, noisy
background. Faces are 40, 47, 60 and 94 px wide, photos up to 12 megapixels. Single-face photos
(the astronaut at several sizes, the cameraman, the cat as a photo with none) count false boxes.

    python benchmarks/detector.py            # writes benchmarks/results/detector.json and .md
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from skimage import data as samples

from faceage_lib.inference.detectors import FaceDetector, get_detector

RESULTS = Path(__file__).parent / "results"
#: The astronaut's head and shoulders, and her face box inside that square (measured by hand).
HEAD = (105, 10, 345, 250)
HEAD_FACE = (72, 69, 168, 165)
#: (photo width, height, faces across, faces down) for each face size.
GROUPS = [(1600, 1280, 5, 4), (4000, 3000, 6, 5)]
FACE_SIZES = [40, 47, 60, 94]
MATCH_IOU = 0.3


@dataclass
class Photo:
    name: str
    image: np.ndarray
    faces: list[tuple[float, float, float, float]]  # the true boxes


def _background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    noise = rng.integers(40, 220, (max(2, height // 80), max(2, width // 80), 3), dtype=np.uint8)
    return cv2.GaussianBlur(cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC), (0, 0), 6)


def _variant(head: np.ndarray, index: int) -> np.ndarray:
    """The head square made different: mirrored, grayscale, channels swapped, darker or lighter."""
    head = head[:, ::-1] if index % 2 else head
    if index % 5 == 1:
        head = np.repeat(cv2.cvtColor(head, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)
    if index % 5 == 3:
        head = head[:, :, [1, 2, 0]]
    gain = (0.75, 1.0, 1.2)[index % 3]
    return np.clip(head.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def group_photo(width: int, height: int, across: int, down: int, face: int, seed: int = 0) -> Photo:
    """``across`` x ``down`` astronauts whose faces are ``face`` px wide, one per grid cell."""
    rng = np.random.default_rng(seed)
    photo = _background(width, height, rng)
    astronaut = samples.astronaut()[HEAD[1] : HEAD[3], HEAD[0] : HEAD[2]]
    scale = face / (HEAD_FACE[2] - HEAD_FACE[0])
    side = round(astronaut.shape[0] * scale)
    cell_w, cell_h = width // across, height // down
    boxes = []
    for index in range(across * down):
        head = cv2.resize(_variant(astronaut, index), (side, side), interpolation=cv2.INTER_AREA)
        x = (index % across) * cell_w + int(rng.integers(0, max(1, cell_w - side)))
        y = (index // across) * cell_h + int(rng.integers(0, max(1, cell_h - side)))
        photo[y : y + side, x : x + side] = head[: height - y, : width - x]
        boxes.append(_place(HEAD_FACE, x, y, scale))
    return Photo(f"group {width}x{height}, {across * down} faces of {face} px", photo, boxes)


def _place(box, x: int, y: int, scale: float) -> tuple[float, float, float, float]:
    """``box`` of a picture scaled by ``scale`` and pasted at (x, y)."""
    return (x + box[0] * scale, y + box[1] * scale, x + box[2] * scale, y + box[3] * scale)


def single_photos() -> list[Photo]:
    """Photos of one person (or none): false boxes show here."""
    astronaut, box = samples.astronaut(), (177, 79, 273, 175)
    photos = [Photo("astronaut 512x512", astronaut, [box])]
    for width, height in [(1600, 1200), (4000, 3000)]:
        side = height * 6 // 10  # the photo scaled to 60% of the height, as benchmarks/photos.py does
        scale = side / astronaut.shape[0]
        canvas = _background(width, height, np.random.default_rng(width))
        x, y = (width - side) // 3, (height - side) // 2
        canvas[y : y + side, x : x + side] = cv2.resize(astronaut, (side, side), interpolation=cv2.INTER_CUBIC)
        photos.append(Photo(f"astronaut in {width}x{height}", canvas, [_place(box, x, y, scale)]))
    camera = np.repeat(samples.camera()[:, :, None], 3, axis=2)
    photos.append(Photo("cameraman 512x512", camera, [(180, 121, 264, 205)]))
    photos.append(Photo("cat 451x300 (no face)", samples.chelsea(), []))
    return photos


def _iou(a, b) -> float:
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def measure(detector: FaceDetector, photo: Photo, repeats: int) -> dict:
    """Faces found, false boxes and the median time of ``detect`` on one photo."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        found = detector.detect(photo.image)
        times.append(time.perf_counter() - start)
    boxes = [face.box for face in found]
    hits = sum(any(_iou(truth, box) >= MATCH_IOU for box in boxes) for truth in photo.faces)
    false = sum(not any(_iou(truth, box) >= MATCH_IOU for truth in photo.faces) for box in boxes)
    height, width = photo.image.shape[:2]
    return {
        "photo": photo.name,
        "megapixels": round(width * height / 1e6, 2),
        "faces": len(photo.faces),
        "found": hits,
        "recall": round(hits / len(photo.faces), 3) if photo.faces else None,
        "false_boxes": false,
        "false_scores": sorted(
            round(f.score, 3) for f, b in zip(found, boxes) if not any(_iou(t, b) >= MATCH_IOU for t in photo.faces)
        ),
        "seconds": round(statistics.median(times), 3),
    }


def photos() -> list[Photo]:
    groups = [group_photo(w, h, across, down, face, seed=face) for w, h, across, down in GROUPS for face in FACE_SIZES]
    return groups + single_photos()


def markdown(rows: list[dict], threads: int | None) -> str:
    lines = [
        f"# Face detection (BlazeFace, {threads or 'default'} LiteRT threads)",
        "",
        "| photo | MP | faces | found | recall | false boxes | seconds (median) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        recall = "" if row["recall"] is None else f"{row['recall']:.0%}"
        lines.append(
            f"| {row['photo']} | {row['megapixels']} | {row['faces']} | {row['found']} | {recall} "
            f"| {row['false_boxes']} | {row['seconds']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="LiteRT threads per model")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    detector = get_detector(num_threads=args.threads)
    rows = []
    for photo in photos():
        rows.append(measure(detector, photo, args.repeats))
        print(json.dumps(rows[-1]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "detector.json").write_text(json.dumps({"threads": args.threads, "photos": rows}, indent=1) + "\n")
    (args.out / "detector.md").write_text(markdown(rows, args.threads))


if __name__ == "__main__":
    main()
