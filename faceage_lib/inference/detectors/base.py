"""What every face detector gives: :class:`Face` records, behind the :class:`FaceDetector` interface.

A detector plugs into :class:`faceage_lib.Predictor` by subclassing :class:`FaceDetector` (one
module per detector, registered by name in :mod:`faceage_lib.inference.detectors`). Its faces
need a box and, for the crop's rotation, the two eyes; other landmarks are optional.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from ...config import DETECTOR_MIN_SCORE

#: Landmark order (subject's eyes as seen in the image: right eye first on the left).
LANDMARKS = ("right_eye", "left_eye", "nose_tip", "mouth", "right_ear", "left_ear")


@dataclass(frozen=True)
class Face:
    """One detected face, in pixels of the photo it was found in.

    The box may extend past the photo's edges (a face cut by the frame); the crop needs its
    true size, and :meth:`clipped_box` gives the part inside the photo.
    """

    box: tuple[float, float, float, float]  # x1, y1, x2, y2
    score: float
    landmarks: np.ndarray  # (6, 2) x, y in the order of LANDMARKS; NaN where unknown

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    def clipped_box(self, width: int, height: int) -> tuple[int, int, int, int]:
        """The box in whole pixels, clipped to a ``width`` x ``height`` photo."""
        x1, y1, x2, y2 = self.box
        return (max(0, round(x1)), max(0, round(y1)), min(width, round(x2)), min(height, round(y2)))

    @classmethod
    def from_box(cls, box, score: float = 1.0) -> Face:
        """A face known only by its box: level eyes are assumed (no rotation in the crop)."""
        x1, y1, x2, y2 = (float(v) for v in box)
        if not (x2 > x1 and y2 > y1):
            raise ValueError(f"a face box must be (x1, y1, x2, y2) with x2 > x1 and y2 > y1, not {tuple(box)}")
        landmarks = np.full((len(LANDMARKS), 2), np.nan)
        landmarks[0] = (x1 + 0.35 * (x2 - x1), y1 + 0.4 * (y2 - y1))  # right eye
        landmarks[1] = (x1 + 0.65 * (x2 - x1), y1 + 0.4 * (y2 - y1))  # left eye
        return cls(box=(x1, y1, x2, y2), score=score, landmarks=landmarks)


def check_min_score(min_score: float) -> None:
    """``ValueError`` unless ``min_score`` is a detector score: in (0, 1]."""
    if not 0 < min_score <= 1:
        raise ValueError(f"min_score must be in (0, 1], not {min_score!r}")


class FaceDetector(ABC):
    """Finds faces in an upright RGB uint8 photo."""

    #: The name the registry knows it by; part of the crop cache's key.
    name: str = ""
    #: Bump when the faces found change (cached training crops are keyed by name and version).
    version: str = "1"

    def __init__(self, num_threads: int | None = None) -> None:
        """``num_threads``: CPU threads of the detector's models (the registry passes it to every detector)."""
        self.num_threads = num_threads

    @abstractmethod
    def detect(self, image: np.ndarray, min_score: float = DETECTOR_MIN_SCORE) -> list[Face]:
        """Every face scoring at least ``min_score``, best first."""
