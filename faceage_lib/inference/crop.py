"""The one face crop that training and inference share.

A square around the detected face box, rotated so that the eyes are level, resampled to
``size`` x ``size`` RGB uint8. Parts outside the photo repeat its edge pixels.
UTKFace's chips are tight face crops (the detector's box fills about 93% of a chip), so the
crop is the box itself: the model sees the same framing on a chip and on any photo.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .detectors.base import Face

#: Side of the crop relative to the detector's box width.
CROP_SCALE = 1.0
#: Bump when :func:`crop_face` changes what it cuts: cached training crops are keyed by it.
CROP_VERSION = 1


def crop_face(image: np.ndarray, face: Face, size: int) -> np.ndarray:
    """Cut the aligned ``size`` x ``size`` crop of ``face`` from an RGB uint8 ``image``."""
    x1, y1, x2, y2 = face.box
    centre = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
    side = max(x2 - x1, y2 - y1) * CROP_SCALE
    angle = eye_angle(face)
    image, centre, side = _shrink_first(image, centre, side, size)
    # Similarity transform: rotate by -angle about the face centre, scale the side to `size`.
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, size / side)
    matrix[:, 2] += size / 2 - centre
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


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
    small = cv2.resize(region, (max(1, round(region.shape[1] * shrink)), max(1, round(region.shape[0] * shrink))),
                       interpolation=cv2.INTER_AREA)
    scale_x, scale_y = small.shape[1] / region.shape[1], small.shape[0] / region.shape[0]
    new_centre = np.array([(centre[0] - x0) * scale_x, (centre[1] - y0) * scale_y])
    return small, new_centre, side * scale_x
