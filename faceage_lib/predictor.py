"""``Predictor``: photo -> faces -> crops -> model -> one result per face.

Loads the detector and the model once; ``predict`` is thread-safe (the LiteRT models lock).
Inference imports no TensorFlow, so a cold start takes about a second.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Iterable

import numpy as np

from .crop import crop_face
from .detector import Face, FaceDetector
from .estimator import AgeGenderEstimator
from .images import ImageSource, load_image


@dataclass(frozen=True)
class FaceResult:
    """One face: box (x1, y1, x2, y2) in pixels of the upright photo, and what the model thinks."""

    box: tuple[int, int, int, int]
    score: float
    age: float
    age_low: float
    age_high: float
    gender: str  # "female" or "male"
    gender_prob: float  # probability of ``gender``

    def to_dict(self) -> dict:
        values = asdict(self)
        values["box"] = list(self.box)
        return values

    @property
    def label(self) -> str:
        """Short label for drawing, e.g. ``"F 34 (29-41)"``."""
        return f"{self.gender[0].upper()} {self.age:.0f} ({self.age_low:.0f}-{self.age_high:.0f})"


@dataclass
class Analysis:
    """Everything ``Predictor.analyze`` found in one photo (the app draws and stores from it)."""

    image: np.ndarray  # the upright RGB photo
    faces: list[FaceResult]
    crops: np.ndarray  # (N, size, size, 3) uint8, the model's inputs, in the order of ``faces``


class Predictor:
    """Estimate age and gender for every face in a photo.

    >>> predictor = Predictor()                      # the shipped model
    >>> for face in predictor.predict("group.jpg"):  # path, bytes, PIL image or array
    ...     print(face.box, face.age, face.gender)
    """

    def __init__(self, model_dir: str | os.PathLike | None = None, min_score: float = 0.5,
                 flip: bool = False):
        self.estimator = AgeGenderEstimator(model_dir)
        self.detector = FaceDetector()
        self.min_score = min_score
        self.flip = flip

    def predict(self, image: ImageSource) -> list[FaceResult]:
        """One :class:`FaceResult` per face, left to right. Raises ``ImageError`` on bad input."""
        return self.analyze(image).faces

    def predict_many(self, images: Iterable[ImageSource]) -> list[list[FaceResult]]:
        """Like :meth:`predict` for many photos, with all their faces in batched model calls."""
        photos = [load_image(image) for image in images]
        found = [self._faces_and_crops(photo) for photo in photos]
        crops = [crop for _, photo_crops in found for crop in photo_crops]
        results = self._results(found, photos, np.asarray(crops) if crops else self._no_crops())
        return results

    def analyze(self, image: ImageSource) -> Analysis:
        """The upright photo, its faces and their crops."""
        photo = load_image(image)
        faces, crops = self._faces_and_crops(photo)
        batch = np.asarray(crops) if crops else self._no_crops()
        return Analysis(photo, self._results([(faces, crops)], [photo], batch)[0], batch)

    def _faces_and_crops(self, photo: np.ndarray) -> tuple[list[Face], list[np.ndarray]]:
        faces = sorted(self.detector.detect(photo, self.min_score), key=lambda f: f.box[0])
        return faces, [crop_face(photo, face, self.estimator.img_size) for face in faces]

    def _results(self, found, photos, crops: np.ndarray) -> list[list[FaceResult]]:
        estimates = self.estimator.predict(crops, flip=self.flip)
        results, k = [], 0
        for (faces, _), photo in zip(found, photos):
            height, width = photo.shape[:2]
            per_photo = []
            for face in faces:
                p_female = float(estimates.p_female[k])
                female = p_female >= 0.5
                per_photo.append(FaceResult(
                    box=face.clipped_box(width, height), score=round(face.score, 4),
                    age=round(float(estimates.age[k]), 1), age_low=float(estimates.age_low[k]),
                    age_high=float(estimates.age_high[k]), gender="female" if female else "male",
                    gender_prob=round(p_female if female else 1 - p_female, 4)))
                k += 1
            results.append(per_photo)
        return results

    def _no_crops(self) -> np.ndarray:
        size = self.estimator.img_size
        return np.zeros((0, size, size, 3), np.uint8)
