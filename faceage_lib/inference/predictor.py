"""``Predictor``: photo -> faces -> crops -> model -> one result per face.

Loads the detector and the model once; ``predict`` is thread-safe (the LiteRT models lock).
Inference imports no TensorFlow, Keras, pandas or Gradio, so a cold start takes about a second.
Faces come from the detector, from boxes the caller already has (``predict(image, boxes=...)``),
or are whole pre-cut face images (``predict_crops``).

Each face is cut once per distinct crop its model folder takes (:attr:`AgeGenderEstimator.crops`:
the model's, and its members' such as the gender member's template crop), so every member runs on
its own crop of every face. A face given by its box only (``boxes=``, or the whole image in
``predict_crops``) has no keypoints: its template crop places BlazeFace's average keypoints in the
box (:func:`~.crop.template_keypoints`), so a member still runs on it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np

from ..config import DETECTOR_MIN_SCORE, GENDER_THRESHOLD, GENDERS
from .budget import PixelBudget
from .crop import CropSpec, crop_face
from .detectors import DEFAULT_DETECTOR, Face, FaceDetector, get_detector
from .detectors.base import check_min_score
from .estimator import AgeGenderEstimator
from .images import ImageSource, Photo, load_image, open_photo
from .order import reading_order

Box = Sequence[float]  # x1, y1, x2, y2 in pixels
UNCERTAIN = "uncertain"
#: Large JPEGs are decoded at a reduced size keeping at least this many pixels: the detector's finest
#: level never needs more (see :data:`~.detectors.blazeface.MAX_LEVEL_PIXELS`), and the smallest face
#: it finds there still spans 40 px or more, near the model's 64 px crop.
DECODE_PIXELS = 12_000_000
#: Decoded pixels held at once by all the predictors of a process: two of the largest photos and a
#: few normal ones (a 64 MP PNG or GIF takes 0.4-0.8 GB to decode and search; a drafted JPEG, 16 MP).
DECODING_BUDGET = PixelBudget(160_000_000)


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
    p_under_18: float  # the model's probability that the person is under 18 (calibrated on val)

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
class Located:
    """A decoded photo and the faces found in it, before the model has looked at them
    (``Predictor.locate``; ``Predictor.estimate`` then estimates all of them or some)."""

    photo: Photo
    faces: list[Face]  # in pixels of ``photo.pixels``, in reading order (or the caller's order)

    def boxes(self) -> list[tuple[int, int, int, int]]:
        """Each face's box in pixels of the original photo, as its :class:`FaceResult` will have it."""
        return [_photo_box(face, self.photo) for face in self.faces]


@dataclass
class Analysis:
    """Everything ``Predictor.analyze`` found in one photo (the app draws and stores from it)."""

    image: np.ndarray  # the upright RGB photo, as decoded (a large JPEG at a reduced size)
    faces: list[FaceResult]  # boxes in pixels of the original photo
    crops: np.ndarray  # (N, size, size, 3) uint8, the model's inputs, in the order of ``faces``
    scale: float = 1.0  # pixels of the original photo per pixel of ``image``

    def on_image(self, faces: Sequence[FaceResult] | None = None) -> list[FaceResult]:
        """``faces`` (by default this photo's) with their boxes in pixels of :attr:`image`, to draw on it."""
        return on_image(self.faces if faces is None else faces, self.scale)


def on_image(faces: Sequence[FaceResult], scale: float) -> list[FaceResult]:
    """``faces`` with their boxes divided by ``scale`` (original photo pixels -> decoded pixels)."""
    if scale == 1:
        return list(faces)

    def unscaled(face: FaceResult) -> FaceResult:
        x1, y1, x2, y2 = (round(v / scale) for v in face.box)
        return replace(face, box=(x1, y1, x2, y2))

    return [unscaled(face) for face in faces]


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

    def __init__(
        self,
        model_dir: str | os.PathLike | None = None,
        min_score: float = DETECTOR_MIN_SCORE,
        flip: bool = False,
        detector: str | FaceDetector = DEFAULT_DETECTOR,
        num_threads: int | None = None,
    ):
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
        photos = [Photo(load_image(face)) for face in faces]
        found = [[Face.from_box((0, 0, photo.pixels.shape[1], photo.pixels.shape[0]))] for photo in photos]
        crops = [self._crop(photo.pixels, faces[0]) for photo, faces in zip(photos, found)]
        return [faces[0] for faces in self._results(found, photos, self._batch(crops))]

    def predict_many(self, images: Iterable[ImageSource]) -> list[list[FaceResult]]:
        """Like :meth:`predict` for many photos, with all their faces in batched model calls."""
        located = [self.locate(image) for image in images]
        crops = [self._crop(place.photo.pixels, face) for place in located for face in place.faces]
        return self._results([place.faces for place in located], [place.photo for place in located], self._batch(crops))

    def analyze(self, image: ImageSource, boxes: Iterable[Box] | None = None) -> Analysis:
        """The upright photo, its faces and their crops (``boxes`` as in :meth:`predict`)."""
        located = self.locate(image, boxes)
        batch = self._crops(located.photo, located.faces)
        faces_found = self._results([located.faces], [located.photo], batch)[0]
        return Analysis(located.photo.pixels, faces_found, batch[self.estimator.crop], located.photo.scale)

    def locate(self, image: ImageSource, boxes: Iterable[Box] | None = None) -> Located:
        """The decoded photo and its faces (found, or ``boxes`` as in :meth:`predict`), not yet
        estimated. The photo is decoded within the process's :data:`DECODING_BUDGET`, a large one at
        a reduced size (:data:`DECODE_PIXELS`)."""
        pending = open_photo(image, DECODE_PIXELS)
        with DECODING_BUDGET.hold(pending.size):
            photo = pending.decode()
            return Located(photo, self._faces(photo.pixels) if boxes is None else _given_faces(boxes, photo))

    def estimate(self, located: Located, which: Iterable[int] | None = None) -> list[FaceResult]:
        """The results of ``located``'s faces at the indices ``which`` (default: all), in that order:
        the live view estimates only the faces that are new or have moved."""
        faces = located.faces if which is None else [located.faces[i] for i in which]
        return self._results([faces], [located.photo], self._crops(located.photo, faces))[0]

    def _faces(self, photo: np.ndarray) -> list[Face]:
        faces = self.detector.detect(photo, self.min_score)
        return [faces[i] for i in reading_order([face.box for face in faces])]

    def _crop(self, photo: np.ndarray, face: Face) -> dict[CropSpec, np.ndarray]:
        """The face's crop of each spec the model folder takes."""
        return {spec: crop_face(photo, face, spec) for spec in self.estimator.crops}

    def _crops(self, photo: Photo, faces: list[Face]) -> dict[CropSpec, np.ndarray]:
        """The crops of ``faces`` in ``photo``, batched by spec."""
        return self._batch([self._crop(photo.pixels, face) for face in faces])

    def _batch(self, crops: list[dict[CropSpec, np.ndarray]]) -> dict[CropSpec, np.ndarray]:
        if not crops:
            return {spec: np.zeros((0, spec.size, spec.size, 3), np.uint8) for spec in self.estimator.crops}
        return {spec: np.asarray([crop[spec] for crop in crops]) for spec in self.estimator.crops}

    def _results(
        self, found: list[list[Face]], photos: list[Photo], crops: dict[CropSpec, np.ndarray]
    ) -> list[list[FaceResult]]:
        estimates = self.estimator.predict(crops, flip=self.flip)
        results, k = [], 0
        for faces, photo in zip(found, photos):
            per_photo = []
            for face in faces:
                p_female = float(estimates.p_female[k])
                gender, probability = decide_gender(p_female, self.estimator.gender_min_confidence)
                per_photo.append(
                    FaceResult(
                        box=_photo_box(face, photo),
                        score=round(face.score, 4),
                        age=round(float(estimates.age[k]), 1),
                        age_low=float(estimates.age_low[k]),
                        age_high=float(estimates.age_high[k]),
                        gender=gender,
                        gender_prob=round(probability, 4),
                        p_female=round(p_female, 4),
                        p_under_18=round(float(estimates.p_under_18[k]), 4),
                    )
                )
                k += 1
            results.append(per_photo)
        return results


def _photo_box(face: Face, photo: Photo) -> tuple[int, int, int, int]:
    """``face``'s box (in ``photo``'s decoded pixels) in pixels of the original photo, clipped to it."""
    height, width = (round(side * photo.scale) for side in photo.pixels.shape[:2])
    return _scaled(face, photo.scale).clipped_box(width, height)


def _given_faces(boxes: Iterable[Box], photo: Photo) -> list[Face]:
    """The caller's boxes (pixels of the original photo) as faces in ``photo``'s pixels; a box that
    is not finite or lies wholly outside the photo is refused (``ValueError``), one partly outside
    is kept (its crop repeats the photo's edge pixels)."""
    height, width = (side * photo.scale for side in photo.pixels.shape[:2])
    faces = []
    for box in boxes:
        face = Face.from_box(box)
        x1, y1, x2, y2 = face.box
        if not all(math.isfinite(v) for v in face.box) or x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height:
            raise ValueError(f"the face box {tuple(box)} lies outside the {width:.0f}x{height:.0f} photo")
        faces.append(_scaled(face, 1 / photo.scale))
    return faces


def _scaled(face: Face, factor: float) -> Face:
    """``face`` with its box and landmarks multiplied by ``factor``."""
    if factor == 1:
        return face
    x1, y1, x2, y2 = (v * factor for v in face.box)
    return Face((x1, y1, x2, y2), face.score, face.landmarks * factor)
