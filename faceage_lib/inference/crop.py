"""The one face crop that training and inference share, and its contract with the model.

A square around the detected face box (``scale`` times its side), rotated so that the eyes are
level, resampled to ``size`` x ``size`` RGB uint8. Parts outside the photo repeat its edge pixels.
UTKFace's chips are tight face crops (the detector's box fills about 93% of a chip), so the
crop is the box itself: the model sees the same framing on a chip and on any photo.

A "template" crop instead places the face's keypoints (right eye, left eye, nose tip, mouth: the
first ones of :data:`~.detectors.base.LANDMARKS`) as near as it can to fixed points of the crop
(the spec's ``template``, in pixels of the ``size`` x ``size`` crop): the similarity transform
(rotation, uniform scale, shift) that fits them best in the least-squares sense
(``cv2.estimateAffinePartial2D`` with every point an inlier), as dlib aligns its face chips. A face
lacking one of those keypoints (a box given by the caller, or a chip where no face was detected)
gets them where BlazeFace puts them on average in its box (:data:`BOX_KEYPOINTS`), so the template
crop of a box frames the face as that of an average detected face in that box, unrotated.

What a model expects is a :class:`CropSpec`, stored in its manifest (``input.crop``) by the export
and read back by the estimator, so a model trained on other crops is cropped its own way, or, if
this code cannot cut them (another crop version), refused with a clear error.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import cv2
import numpy as np

from ..errors import ModelFileError
from .detectors.base import LANDMARKS, Face

#: Bump when :func:`crop_face` changes what it cuts: cached training crops and models are keyed by it.
CROP_VERSION = 2
#: The crop versions a model may have been trained on and still be cut by this code. Version 2 only
#: changed how a face more than twice the crop's size is downsampled (halvings by area, then
#: bilinear, instead of one fractional area resize: 5x faster); its crops lie within 0.4 grey
#: levels of version 1's on UTKFace val, and a version-1 model's val MAE moves by 0.001 years
#: (``benchmarks/crop_downsample.py``).
READABLE_CROP_VERSIONS = (1, 2)
#: How the crop may be turned: "eyes" levels the eyes, "none" keeps the photo's rotation, "template"
#: fits the keypoints to the spec's template points.
ALIGNMENTS = ("eyes", "none", "template")
#: The keypoints a template may place (the ears are left out: BlazeFace's are the least reliable).
TEMPLATE_POINTS = LANDMARKS.index("mouth") + 1
#: Where BlazeFace's right eye, left eye, nose tip and mouth lie in its box on average, as fractions
#: of the box's width and height (x from its left, y from its top): the means over 794 UTKFace chips.
#: A template crop of a face without these keypoints places them here.
BOX_KEYPOINTS = ((0.280, 0.289), (0.703, 0.276), (0.490, 0.514), (0.497, 0.729))


@dataclass(frozen=True)
class CropSpec:
    """The crop a model takes: its side in pixels, its side relative to the detector's box, how it is
    aligned, the version of :func:`crop_face` that cut its training crops, and, for a "template"
    crop, where the keypoints go (``(x, y)`` in pixels of the crop, one per keypoint of
    :data:`~.detectors.base.LANDMARKS` from the first: 2 to 4 of them; ``scale`` is then unused)."""

    size: int
    scale: float = 1.0
    align: str = "eyes"
    version: int = CROP_VERSION
    template: tuple[tuple[float, float], ...] | None = None

    def __post_init__(self):
        if self.template is not None:  # lists (from JSON) become tuples: the spec stays hashable
            object.__setattr__(self, "template", tuple((float(x), float(y)) for x, y in self.template))
        valid_template = (self.template is None) == (self.align != "template") and (
            self.template is None
            or (
                2 <= len(self.template) <= TEMPLATE_POINTS
                and all(math.isfinite(v) and 0 <= v <= self.size for point in self.template for v in point)
                and len(set(self.template)) == len(self.template)
            )
        )
        if not (
            isinstance(self.size, int)
            and self.size >= 8
            and 0.5 <= self.scale <= 3
            and self.align in ALIGNMENTS
            and valid_template
        ):
            raise ValueError(f"not a valid crop: {self}")

    def to_manifest(self) -> dict:
        """The manifest's ``input.crop`` entry (the size is the input shape's; ``template`` only for
        a template crop, as a list of ``[x, y]``)."""
        entry = {k: v for k, v in asdict(self).items() if k not in ("size", "template")}
        if self.template is not None:
            entry["template"] = [list(point) for point in self.template]
        return {"function": "faceage_lib.inference.crop.crop_face", **entry}

    @classmethod
    def from_manifest(cls, entry, size: int) -> CropSpec:
        """The spec of a manifest's ``input.crop``; :class:`ModelFileError` if this code cannot cut it."""
        if not isinstance(entry, dict):
            raise ModelFileError(f"the manifest's crop is {entry!r}, not a crop spec: re-export the model")
        if entry.get("version") not in READABLE_CROP_VERSIONS:
            raise ModelFileError(
                f"the model was trained on crops of version {entry.get('version')!r}; this "
                f"faceage cuts version {CROP_VERSION}: install the faceage that trained it"
            )
        try:
            template = entry.get("template")
            return cls(size, float(entry["scale"]), str(entry["align"]), CROP_VERSION, template)
        except (KeyError, TypeError, ValueError) as error:
            raise ModelFileError(f"the manifest's crop {entry!r} is not valid ({error})") from None

    def key(self) -> str:
        """What shapes the crop, as one string (part of the crop cache's key)."""
        key = f"size={self.size} crop=v{self.version} scale={self.scale} align={self.align}"
        if self.template is not None:
            key += " template=" + ";".join(f"{x:g},{y:g}" for x, y in self.template)
        return key

    def cache_name(self) -> str:
        """What tells this crop's cache file apart from others of its size (``""`` for the box crops,
        whose file names predate template crops)."""
        return "_template" if self.template is not None else ""


def crop_face(image: np.ndarray, face: Face, spec: CropSpec | int) -> np.ndarray:
    """Cut the ``spec.size`` x ``spec.size`` crop of ``face`` from an RGB uint8 ``image`` (an int
    ``spec`` is the size, with the default scale and alignment)."""
    spec = CropSpec(spec) if isinstance(spec, int) else spec
    if spec.template is not None:
        return _template_crop(image, face, spec)
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


def template_keypoints(face: Face, count: int) -> np.ndarray:
    """The first ``count`` keypoints of ``face``, or, if one of them is unknown, all of them at their
    average place in its box (:data:`BOX_KEYPOINTS`)."""
    points = np.asarray(face.landmarks[:count], np.float64)
    if points.shape == (count, 2) and np.isfinite(points).all():
        return points
    x1, y1, x2, y2 = face.box
    relative = np.asarray(BOX_KEYPOINTS[:count], np.float64)
    return np.array([x1, y1]) + relative * np.array([x2 - x1, y2 - y1])


def template_matrix(face: Face, spec: CropSpec) -> np.ndarray:
    """The 2x3 similarity transform from the photo to ``spec``'s template crop of ``face``: the least-
    squares fit of its keypoints to the template (a threshold no point exceeds makes every point an
    inlier of OpenCV's RANSAC, whose final refinement is then the least-squares fit over all)."""
    assert spec.template is not None
    target = np.asarray(spec.template, np.float64)
    source = template_keypoints(face, len(target))
    matrix, _ = cv2.estimateAffinePartial2D(
        source.reshape(-1, 1, 2), target.reshape(-1, 1, 2), ransacReprojThreshold=1e9, refineIters=100
    )
    if matrix is None or not np.isfinite(matrix).all() or abs(np.linalg.det(matrix[:, :2])) < 1e-12:
        # Keypoints that coincide: fall back to the box's average keypoints.
        source = template_keypoints(replace(face, landmarks=np.full_like(face.landmarks, np.nan)), len(target))
        matrix, _ = cv2.estimateAffinePartial2D(
            source.reshape(-1, 1, 2), target.reshape(-1, 1, 2), ransacReprojThreshold=1e9, refineIters=100
        )
    return matrix


def _template_crop(image: np.ndarray, face: Face, spec: CropSpec) -> np.ndarray:
    matrix = template_matrix(face, spec)
    factor = math.sqrt(abs(np.linalg.det(matrix[:, :2])))
    if factor < 0.5:  # area-downsample the face's neighbourhood first, as _shrink_first does
        inverse = cv2.invertAffineTransform(matrix)
        corners = np.array([[0, 0, 1], [spec.size, 0, 1], [0, spec.size, 1], [spec.size, spec.size, 1]], np.float64)
        reach = corners @ inverse.T
        margin = 2 / factor
        x0, y0 = (max(0, int(v - margin)) for v in reach.min(axis=0))
        x1 = min(image.shape[1], int(reach[:, 0].max() + margin) + 1)
        y1 = min(image.shape[0], int(reach[:, 1].max() + margin) + 1)
        if x1 > x0 and y1 > y0:
            image, scale_x, scale_y = _downsample(image[y0:y1, x0:x1], 2 * factor)
            # photo -> region -> small image, composed with the photo -> crop map
            to_small = np.array([[scale_x, 0, -x0 * scale_x], [0, scale_y, -y0 * scale_y], [0, 0, 1]])
            matrix = np.vstack([matrix, [0, 0, 1]]) @ np.linalg.inv(to_small)
            matrix = matrix[:2]
    return cv2.warpAffine(
        image, matrix, (spec.size, spec.size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


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
    small, scale_x, scale_y = _downsample(image[y0:y1, x0:x1], 2 * factor)
    new_centre = np.array([(centre[0] - x0) * scale_x, (centre[1] - y0) * scale_y])
    return small, new_centre, side * scale_x


def _downsample(region: np.ndarray, shrink: float) -> tuple[np.ndarray, float, float]:
    """``region`` resized by about ``shrink`` (< 1), and the factors applied along x and y.

    Halved by area averages while it stays at least twice the result's size (OpenCV's fast path:
    a 2x area resize takes about a hundredth of the time of one by a fractional factor), then
    bilinear for the rest (less than 2x, where bilinear samples still average neighbouring
    pixels). An odd last row or column is dropped at each halving (at most ``2**n - 1`` pixels at
    the far edges of a region cut with a margin)."""
    width, height = (max(1, round(side * shrink)) for side in region.shape[1::-1])
    halvings = 0
    while region.shape[1] >= 2 * width and region.shape[0] >= 2 * height:
        half_height, half_width = region.shape[0] // 2, region.shape[1] // 2
        region = cv2.resize(
            region[: 2 * half_height, : 2 * half_width], (half_width, half_height), interpolation=cv2.INTER_AREA
        )
        halvings += 1
    scale_x, scale_y = width / (region.shape[1] << halvings), height / (region.shape[0] << halvings)
    return cv2.resize(region, (width, height), interpolation=cv2.INTER_LINEAR), scale_x, scale_y
