"""Find faces: MediaPipe's BlazeFace detectors on LiteRT, with boxes, scores and 6 landmarks.

A short-range pass (faces near the camera) runs on every photo. When it finds nothing, or only
small faces, a full-range pass runs too, and on large photos over overlapping tiles as well, so
that group photos and distant faces are found. Detections are merged by weighted NMS.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import cv2
import numpy as np

from ...config import DETECTOR_MIN_SCORE
from ..runtime import TFLiteModel
from .base import Face, FaceDetector

NMS_IOU = 0.3
#: A short-range face smaller than this share of the photo's shorter side triggers the full-range pass.
SMALL_FACE = 0.2
#: Large photos are also searched in overlapping tiles of this side: the full-range model sees a
#: tile at 192 px, so a 40 px face still spans about 12 px there. Photos up to 1.5 tiles need none.
TILE = 640
TILE_OVERLAP = 0.25
#: A tile shows the model a patch out of context; its detections must score higher (measured: real
#: faces in tiles scored 0.77 or more, false ones on upscaled textures 0.51-0.66).
TILE_MIN_SCORE = 0.75


@dataclass(frozen=True)
class _Anchors:
    """SSD anchor centres of one BlazeFace model (MediaPipe's ssd_anchors_calculator, trimmed)."""

    size: int
    centres: np.ndarray

    @classmethod
    def build(cls, size: int, strides: list[int], per_cell: list[int]) -> "_Anchors":
        centres = []
        for stride, repeats in zip(strides, per_cell):
            cells = size // stride
            grid = (np.arange(cells, dtype=np.float32) + 0.5) / cells
            ys, xs = np.meshgrid(grid, grid, indexing="ij")
            centres.append(np.repeat(np.stack([xs.ravel(), ys.ravel()], 1), repeats, axis=0))
        return cls(size, np.concatenate(centres))


_SHORT = ("face_detection_short_range.tflite", _Anchors.build(128, [8, 16], [2, 6]))
_FULL = ("face_detection_full_range.tflite", _Anchors.build(192, [4], [1]))


class _BlazeFace:
    def __init__(self, filename: str, anchors: _Anchors, num_threads: int | None = None):
        path = resources.files(__package__) / "models" / filename
        self.model = TFLiteModel(path.read_bytes(), num_threads)
        self.anchors = anchors

    def __call__(self, image: np.ndarray, region: tuple[int, int, int, int]) -> np.ndarray:
        """Detections in ``image[region]`` as rows (x1, y1, x2, y2, 12 landmark coords, score)."""
        x0, y0, x1, y1 = region
        side = max(x1 - x0, y1 - y0)  # letterbox: pad to a square, keeping the aspect ratio
        size = self.anchors.size
        scale = size / side
        patch = image[y0:y1, x0:x1]
        w, h = max(1, round(patch.shape[1] * scale)), max(1, round(patch.shape[0] * scale))
        resized = cv2.resize(patch, (w, h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        square = np.zeros((size, size, 3), np.float32)
        square[:h, :w] = resized
        outputs = self.model.run((square / 127.5 - 1.0)[None])
        raw = next(v for v in outputs.values() if v.shape[-1] == 16)[0]
        logits = next(v for v in outputs.values() if v.shape[-1] == 1)[0, :, 0]
        keep = logits > np.log(DETECTOR_MIN_SCORE / (1 - DETECTOR_MIN_SCORE))
        if not keep.any():
            return np.zeros((0, 17), np.float32)
        raw, logits, centres = raw[keep], logits[keep], self.anchors.centres[keep]
        points = raw.reshape(-1, 8, 2) / size
        points[:, 0] += centres
        points[:, 2:] += centres[:, None, :]
        half = points[:, 1] / 2
        boxes = np.concatenate([points[:, 0] - half, points[:, 0] + half], 1)
        coords = np.concatenate([boxes, points[:, 2:].reshape(-1, 12)], 1) * side
        coords[:, 0::2] += x0
        coords[:, 1::2] += y0
        scores = 1 / (1 + np.exp(-np.clip(logits, -80, 80)))
        return np.concatenate([coords, scores[:, None]], 1).astype(np.float32)


class BlazeFaceDetector(FaceDetector):
    """MediaPipe's BlazeFace pair (short and full range) on LiteRT, with tiles for large photos."""

    name = "blazeface"

    def __init__(self, num_threads: int | None = None):
        self._short = _BlazeFace(*_SHORT, num_threads=num_threads)
        self._full = _BlazeFace(*_FULL, num_threads=num_threads)

    def detect(self, image: np.ndarray, min_score: float = DETECTOR_MIN_SCORE) -> list[Face]:
        height, width = image.shape[:2]
        whole = (0, 0, width, height)
        found = self._short(image, whole)
        found = found[found[:, 16] >= min_score]
        largest = (found[:, 2] - found[:, 0]).max() if len(found) else 0.0
        if largest < SMALL_FACE * min(width, height):
            extra = self._full(image, whole)
            extra = extra[extra[:, 16] >= min_score]
            tiled = np.concatenate([self._full(image, t) for t in _tiles(width, height)] or [extra[:0]])
            extra = np.concatenate([extra, tiled[tiled[:, 16] >= max(min_score, TILE_MIN_SCORE)]])
            # A face the short-range pass found keeps its short-range box: the full-range model frames
            # faces larger and higher, and averaging in its (tile-dependent) boxes would make the crop
            # depend on the photo's resolution. The full-range pass adds the faces it alone finds.
            if len(found):
                extra = extra[[not (_iou(row, found) > NMS_IOU).any() for row in extra]]
            found = np.concatenate([found, extra])
        merged = _weighted_nms(found)
        return [_to_face(row) for row in merged]


def _tiles(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Overlapping ``TILE`` x ``TILE`` regions covering a photo too large for one 192 px pass."""
    if max(width, height) <= 1.5 * TILE:
        return []
    step = TILE * (1 - TILE_OVERLAP)

    def starts(length: int) -> np.ndarray:
        count = int(np.ceil(max(0, length - TILE) / step)) + 1
        return np.linspace(0, max(0, length - TILE), count).astype(int)

    return [(x, y, min(width, x + TILE), min(height, y + TILE)) for y in starts(height) for x in starts(width)]


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    return inter / np.maximum(area(box) + area(boxes) - inter, 1e-9)


def _weighted_nms(rows: np.ndarray) -> list[np.ndarray]:
    """MediaPipe's weighted NMS: overlapping detections are averaged, weighted by score."""
    rows = rows[np.argsort(-rows[:, 16])]
    merged = []
    while len(rows):
        overlap = _iou(rows[0], rows) > NMS_IOU
        cluster = rows[overlap]
        weights = cluster[:, 16:17]
        average = (cluster[:, :16] * weights).sum(0) / weights.sum()
        merged.append(np.append(average, rows[0, 16]))
        rows = rows[~overlap]
    return merged


def _to_face(row: np.ndarray) -> Face:
    box = tuple(float(v) for v in row[:4])
    return Face(box=box, score=float(row[16]), landmarks=row[4:16].reshape(6, 2).copy())
