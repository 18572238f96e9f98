"""``Predictor``: photo -> faces -> crops -> model -> one result per face.

Loads the detector and the model once; ``predict`` is thread-safe (the LiteRT models lock).
Inference imports no TensorFlow, Keras, pandas or Gradio, so a cold start takes about a second.
Faces come from the detector, from boxes the caller already has (``predict(image, boxes=...)``),
or are whole pre-cut face images (``predict_crops``).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

import numpy as np

from ..config import DETECTOR_MIN_SCORE, GENDER_THRESHOLD, GENDERS
from .crop import crop_face
from .detectors import DEFAULT_DETECTOR, Face, FaceDetector, get_detector
from .detectors.base import check_min_score
from .estimator import AgeGenderEstimator
from .images import ImageSource, load_image
from .order import reading_order

Box = Sequence[float]  # x1, y1, x2, y2 in pixels
UNCERTAIN = "uncertain"


def decide_gender(p_female: float, min_confidence: float) -> tuple[str, float]:
    """The gender to show and the probability of the more likely one.

    Below ``min_confidence`` (chosen on val so that the genders shown are right at least 97% of
    the time; see :mod:`faceage_lib.training.calibration`) the answer is "uncertain".
    """
    female = p_female >= GENDER_THRESHOLD
    probability = p_female if female else 1 - p_female
    return (GENDERS[int(female)] if probability >= min_confidence else UNCERTAIN), probability


@dataclass(frozen=True)
class FaceResult:
    """One face: box (x1, y1, x2, y2) in pixels of the upright photo, and what the model thinks."""

    box: tuple[int, int, int, int]
    score: float
    age: float
    age_low: float
    age_high: float
    gender: str  # "female", "male", or "uncertain" where the model is not confident enough
    gender_prob: float  # probability of the more likely gender (``gender`` unless uncertain)
    p_female: float  # the model's probability that the face is female

    def to_dict(self) -> dict:
        values = asdict(self)
        values["box"] = list(self.box)
        return values

    @property
    def leaning(self) -> str:
        """The gender the model leans to ("female" / "male"), even when ``gender`` is uncertain."""
        return GENDERS[int(self.p_female >= GENDER_THRESHOLD)]

    @property
    def label(self) -> str:
        """Short label for drawing: ``"F 34 (29-41)"``, or ``"F? 34 (29-41)"`` when the gender is uncertain."""
        sign = self.leaning[0].upper() + ("?" if self.gender == UNCERTAIN else "")
        return f"{sign} {self.age:.0f} ({self.age_low:.0f}-{self.age_high:.0f})"


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
    >>> predictor.predict("group.jpg", boxes=[(40, 30, 120, 110)])  # faces you located yourself
    >>> predictor.predict_crops(["face1.jpg", "face2.jpg"])       # photos that are one face each

    ``detector``: a registered name (see :mod:`faceage_lib.inference.detectors`) or any
    :class:`FaceDetector`; ``min_score``: the detector's bar, in (0, 1] (``ValueError`` otherwise);
    ``num_threads``: CPU threads of each LiteRT model.
    """

    def __init__(self, model_dir: str | os.PathLike | None = None, min_score: float = DETECTOR_MIN_SCORE,
                 flip: bool = False, detector: str | FaceDetector = DEFAULT_DETECTOR,
                 num_threads: int | None = None):
        check_min_score(min_score)
        self.estimator = AgeGenderEstimator(model_dir, num_threads)
        self.detector = get_detector(detector, num_threads)
        self.min_score = min_score
        self.flip = flip

    def predict(self, image: ImageSource, boxes: Iterable[Box] | None = None) -> list[FaceResult]:
        """One :class:`FaceResult` per face, in reading order (rows top to bottom, left to right:
        :func:`~faceage_lib.inference.order.reading_order`), the order faces are numbered in from 1
        everywhere. Raises ``ImageError`` on bad input.

        ``boxes``: the faces' (x1, y1, x2, y2) boxes, if known; the detector is then not run and
        the results keep the boxes' order.
        """
        return self.analyze(image, boxes).faces

    def predict_crops(self, faces: Iterable[ImageSource]) -> list[FaceResult]:
        """One result per image, each image being one tight face crop (as UTKFace's chips are)."""
        photos = [load_image(face) for face in faces]
        found = [[Face.from_box((0, 0, photo.shape[1], photo.shape[0]))] for photo in photos]
        crops = [self._crop(photo, faces[0]) for photo, faces in zip(photos, found)]
        return [faces[0] for faces in self._results(found, photos, self._batch(crops))]

    def predict_many(self, images: Iterable[ImageSource]) -> list[list[FaceResult]]:
        """Like :meth:`predict` for many photos, with all their faces in batched model calls."""
        photos = [load_image(image) for image in images]
        found = [self._faces(photo) for photo in photos]
        crops = [self._crop(photo, face) for photo, faces in zip(photos, found) for face in faces]
        return self._results(found, photos, self._batch(crops))

    def analyze(self, image: ImageSource, boxes: Iterable[Box] | None = None) -> Analysis:
        """The upright photo, its faces and their crops (``boxes`` as in :meth:`predict`)."""
        photo = load_image(image)
        faces = self._faces(photo) if boxes is None else [Face.from_box(box) for box in boxes]
        batch = self._batch([self._crop(photo, face) for face in faces])
        return Analysis(photo, self._results([faces], [photo], batch)[0], batch)

    def _faces(self, photo: np.ndarray) -> list[Face]:
        faces = self.detector.detect(photo, self.min_score)
        return [faces[i] for i in reading_order([face.box for face in faces])]

    def _crop(self, photo: np.ndarray, face: Face) -> np.ndarray:
        return crop_face(photo, face, self.estimator.img_size)

    def _batch(self, crops: list[np.ndarray]) -> np.ndarray:
        size = self.estimator.img_size
        return np.asarray(crops) if crops else np.zeros((0, size, size, 3), np.uint8)

    def _results(self, found: list[list[Face]], photos, crops: np.ndarray) -> list[list[FaceResult]]:
        estimates = self.estimator.predict(crops, flip=self.flip)
        results, k = [], 0
        for faces, photo in zip(found, photos):
            height, width = photo.shape[:2]
            per_photo = []
            for face in faces:
                p_female = float(estimates.p_female[k])
                gender, probability = decide_gender(p_female, self.estimator.gender_min_confidence)
                per_photo.append(FaceResult(
                    box=face.clipped_box(width, height), score=round(face.score, 4),
                    age=round(float(estimates.age[k]), 1), age_low=float(estimates.age_low[k]),
                    age_high=float(estimates.age_high[k]), gender=gender, gender_prob=round(probability, 4),
                    p_female=round(p_female, 4)))
                k += 1
            results.append(per_photo)
        return results
