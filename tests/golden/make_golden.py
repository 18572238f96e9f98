"""Record the golden corpus of the shipped model: ``python tests/golden/make_golden.py``.

For three free photos in ``assets/`` (one face, a group of four, grayscale) it writes, stage by stage,
what the pipeline gives: the decoded photo (shape, channel means), the detector's rows (box, score,
landmarks), each face's crop (a lossless PNG in ``crops/``), the model's estimates on those crops
(with and without flip) and the predictor's final results. The detector and crop stages do not
depend on the model; the model stages are keyed by the SHA-256 of each of the model folder's
``.tflite`` files (:func:`model_files`: the ensemble and its members), so ``test_golden.py`` says
when a new model needs this script run again.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
from PIL import Image

from faceage_lib import Predictor
from faceage_lib.config import assets_dir, shipped_model_dir
from faceage_lib.inference.crop import crop_face
from faceage_lib.inference.images import load_image

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden.json"
CROPS = HERE / "crops"
#: Photo name (in assets/) -> what it shows.
PHOTOS = {"astronaut.jpg": "one face", "group.jpg": "four faces, two in grayscale", "cameraman.jpg": "grayscale"}


def crop_path(photo: str, index: int) -> Path:
    """Where the golden crop of face ``index`` (detector order) of ``photo`` is stored."""
    return CROPS / f"{Path(photo).stem}_{index}.png"


def model_files(manifest: dict) -> dict[str, str]:
    """The SHA-256 of each ``.tflite`` file of a model folder's manifest: what the model stages depend on."""
    return {name: entry["sha256"] for name, entry in sorted(manifest["files"].items()) if name.endswith(".tflite")}


def photo_stage(photo: np.ndarray) -> dict:
    """The decoded photo's shape and per-channel mean."""
    return {"shape": list(photo.shape), "channel_means": [round(float(m), 3) for m in photo.mean(axis=(0, 1))]}


def face_row(face) -> dict:
    """One detector row: box (x1, y1, x2, y2), score and the six landmarks, in photo pixels."""
    return {
        "box": [round(v, 3) for v in face.box],
        "score": round(face.score, 5),
        "landmarks": np.round(face.landmarks.astype(float), 3).tolist(),
    }


def estimates_stage(estimates) -> dict:
    """The estimator's outputs, one list per field."""
    return {
        key: [round(float(v), 5) for v in getattr(estimates, key)] for key in ("age", "age_low", "age_high", "p_female")
    }


def main() -> None:
    predictor = Predictor(shipped_model_dir())
    size = predictor.estimator.img_size
    CROPS.mkdir(exist_ok=True)
    for old in CROPS.glob("*.png"):
        old.unlink()
    photos = {}
    for name, shows in PHOTOS.items():
        photo = load_image(assets_dir() / name)
        faces = predictor.detector.detect(photo)
        crops = np.asarray([crop_face(photo, face, size) for face in faces])
        for index, crop in enumerate(crops):
            Image.fromarray(crop).save(crop_path(name, index))
        photos[name] = {
            "shows": shows,
            "photo": photo_stage(photo),
            "faces": [face_row(face) for face in faces],
            "estimates": estimates_stage(predictor.estimator.predict(crops)),
            "estimates_flip": estimates_stage(predictor.estimator.predict(crops, flip=True)),
            "results": [face.to_dict() for face in predictor.predict(photo)],
        }
    golden = {
        "model_files": model_files(predictor.estimator.manifest),
        "crop_size": size,
        "photos": photos,
    }
    text = json.dumps(golden, indent=1)
    GOLDEN.write_text(re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: f"[{' '.join(m.group(1).split())}]", text) + "\n")
    print(f"wrote {GOLDEN} and {len(list(CROPS.glob('*.png')))} crops in {CROPS}")


if __name__ == "__main__":
    main()
