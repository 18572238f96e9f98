"""The one face crop that training and inference share, and its contract with the model.

A square around the detected face box (``scale`` times its side), rotated so that the eyes are
level, resampled to ``size`` x ``size`` RGB uint8. Parts outside the photo repeat its edge pixels.
UTKFace's chips are tight face crops (the detector's box fills about 93% of a chip), so the
crop is the box itself: the model sees the same framing on a chip and on any photo.

What a model expects is a :class:`CropSpec`, stored in its manifest (``input.crop``) by the export
and read back by the estimator, so a model trained on other crops is cropped its own way, or, if
this code cannot cut them (another crop version), refused with a clear error.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from ..errors import ModelFileError
from .detectors.base import Face

#: Bump when :func:`crop_face` changes what it cuts: cached training crops and models are keyed by it.
CROP_VERSION = 1
#: How the crop may be turned: "eyes" levels the eyes, "none" keeps the photo's rotation.
ALIGNMENTS = ("eyes", "none")


@dataclass(frozen=True)
class CropSpec:
    """The crop a model takes: its side in pixels, its side relative to the detector's box, whether
    the eyes are levelled, and the version of :func:`crop_face` that cut its training crops."""

    size: int
    scale: float = 1.0
    align: str = "eyes"
    version: int = CROP_VERSION

    def __post_init__(self):
        if not (isinstance(self.size, int) and self.size >= 8 and 0.5 <= self.scale <= 3 and self.align in ALIGNMENTS):
            raise ValueError(f"not a valid crop: {self}")

    def to_manifest(self) -> dict:
        """The manifest's ``input.crop`` entry (the size is the input shape's)."""
        return {
            "function": "faceage_lib.inference.crop.crop_face",
            **{k: v for k, v in asdict(self).items() if k != "size"},
        }

    @classmethod
    def from_manifest(cls, entry, size: int) -> CropSpec:
        """The spec of a manifest's ``input.crop``; :class:`ModelFileError` if this code cannot cut it."""
        if not isinstance(entry, dict):
            raise ModelFileError(f"the manifest's crop is {entry!r}, not a crop spec: re-export the model")
        if entry.get("version") != CROP_VERSION:
            raise ModelFileError(
                f"the model was trained on crops of version {entry.get('version')!r}; this "
                f"faceage cuts version {CROP_VERSION}: install the faceage that trained it"
            )
        try:
            return cls(size, float(entry["scale"]), str(entry["align"]), CROP_VERSION)
        except (KeyError, TypeError, ValueError) as error:
            raise ModelFileError(f"the manifest's crop {entry!r} is not valid ({error})") from None

    def key(self) -> str:
        """What shapes the crop, as one string (part of the crop cache's key)."""
        return f"size={self.size} crop=v{self.version} scale={self.scale} align={self.align}"


def crop_face(image: np.ndarray, face: Face, spec: CropSpec | int) -> np.ndarray:
    """Cut the ``spec.size`` x ``spec.size`` crop of ``face`` from an RGB uint8 ``image`` (an int
    ``spec`` is the size, with the default scale and alignment)."""
    spec = CropSpec(spec) if isinstance(spec, int) else spec
    size = spec.size
    x1, y1, x2, y2 = face.box
    centre = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
    side = max(x2 - x1, y2 - y1) * spec.scale
    angle = eye_angle(face) if spec.align == "eyes" else 0.0
    image, centre, side = _shrink_first(image, centre, side, size)
    # Similarity transform: rotate by -angle about the face centre, scale the side to `size`.
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, size / side)
    matrix[:, 2] += size / 2 - centre
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def eye_angle(face: Face) -> float:
    """Roll of the face in degrees (counter-clockwise positive in image coordinates)."""
    right_eye, left_eye = face.landmarks[0], face.landmarks[1]
    dx, dy = left_eye - right_eye
    return math.degrees(math.atan2(dy, dx))


def _shrink_first(image: np.ndarray, centre: np.ndarray, side: float, size: int):
    """Area-downsample the face's neighbourhood first when the crop shrinks it by more than 2x,
    so the bilinear warp does not alias (a 1000 px face in a 12 MP photo)."""
    factor = size / side
    if factor >= 0.5:
        return image, centre, side
    reach = side * 0.75  # covers the rotated square (side * sqrt(2) / 2) with room to spare
    x0, y0 = (max(0, int(c - reach)) for c in centre)
    x1 = min(image.shape[1], int(centre[0] + reach) + 1)
    y1 = min(image.shape[0], int(centre[1] + reach) + 1)
    shrink = 2 * factor
    region = image[y0:y1, x0:x1]
    small = cv2.resize(
        region,
        (max(1, round(region.shape[1] * shrink)), max(1, round(region.shape[0] * shrink))),
        interpolation=cv2.INTER_AREA,
    )
    scale_x, scale_y = small.shape[1] / region.shape[1], small.shape[0] / region.shape[0]
    new_centre = np.array([(centre[0] - x0) * scale_x, (centre[1] - y0) * scale_y])
    return small, new_centre, side * scale_x
