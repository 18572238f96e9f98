"""False boxes on real photos of one person: APPA-REAL's photos each hold one face, so every box
beyond the first is a candidate false one (and a photo with none is a missed face).

    python benchmarks/false_boxes.py --data-dir ../shared/appa-real   # writes results/false_boxes.json and .md

The photos are read from ``DATA_DIR/{test,val}/*.jpg`` and never copied; the results name the
files with more than one box (with their boxes and scores), so that each can be looked at.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from faceage_lib.inference.detectors import get_detector
from faceage_lib.inference.images import load_image

RESULTS = Path(__file__).parent / "results"


def measure(data_dir: Path, splits: list[str], limit: int | None) -> dict:
    """Boxes per photo over the photos of ``splits`` (the first ``limit`` of each, by name)."""
    detector = get_detector()
    counts: dict[int, int] = {}
    extra, seconds = [], 0.0
    for split in splits:
        for path in sorted((data_dir / split).glob("*.jpg"))[:limit]:
            image = load_image(path)
            start = time.perf_counter()
            faces = detector.detect(image)
            seconds += time.perf_counter() - start
            counts[len(faces)] = counts.get(len(faces), 0) + 1
            if len(faces) > 1:
                extra.append(
                    {
                        "file": f"{split}/{path.name}",
                        "size": list(image.shape[1::-1]),
                        "boxes": [[round(v) for v in face.box] for face in faces],
                        "scores": [round(face.score, 3) for face in faces],
                    }
                )
    photos = sum(counts.values())
    false = sum((n - 1) * k for n, k in counts.items() if n > 1)
    return {
        "detector": f"{detector.name} {detector.version}",
        "splits": splits,
        "photos": photos,
        "boxes_per_photo": {str(n): counts[n] for n in sorted(counts)},
        "no_face": counts.get(0, 0),
        "extra_boxes": false,
        "extra_per_1000": round(1000 * false / max(photos, 1), 2),
        "ms_per_photo": round(1000 * seconds / max(photos, 1), 1),
        "photos_with_extra_boxes": extra,
    }


def markdown(result: dict) -> str:
    return "\n".join(
        [
            f"# False boxes on APPA-REAL ({', '.join(result['splits'])}; {result['detector']})",
            "",
            "| photos (one person each) | no face found | extra boxes (false candidates) "
            "| per 1,000 photos | ms/photo |",
            "|---:|---:|---:|---:|---:|",
            f"| {result['photos']} | {result['no_face']} | {result['extra_boxes']} | {result['extra_per_1000']} "
            f"| {result['ms_per_photo']} |",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="APPA-REAL's folder (with test/ and val/)")
    parser.add_argument("--splits", nargs="+", default=["test", "val"])
    parser.add_argument("--limit", type=int, default=None, help="photos per split at most")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    result = measure(args.data_dir, args.splits, args.limit)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "false_boxes.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "false_boxes.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
