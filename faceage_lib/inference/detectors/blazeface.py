"""Find faces: MediaPipe's BlazeFace detectors on LiteRT, with boxes, scores and 6 landmarks.

A short-range pass over the whole photo finds faces near the camera. When it finds nothing, or
only small faces, a full-range pass over the whole photo and a pyramid of tiled short-range passes
run too: the photo is scaled so that a :data:`MIN_FACE` px face spans :data:`TILE_FACE` px at the
model's 128 px input, cut into overlapping tiles (all run in one batch), then halved and tiled
again until one tile holds it. The work is bounded by the photo's pixels, not its sides: the
finest level holds at most :data:`MAX_LEVEL_PIXELS` (above about 12 megapixels the smallest face
found grows with the photo). Detections are merged by weighted NMS.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ...config import DETECTOR_MIN_SCORE
from ...errors import ModelFileError
from ..modelfiles import read_manifest, verified_file
from ..runtime import TFLiteModel
from .base import Face, FaceDetector, check_min_score

NMS_IOU = 0.3
#: Unless the short-range pass finds a face (scoring :data:`EXTRA_MIN_SCORE`) at least this share
#: of the photo's shorter side wide, the other passes run.
SMALL_FACE = 0.2
#: The smallest face (box width in photo pixels) the tiled passes look for, in photos up to about
#: 12 megapixels.
MIN_FACE = 40
#: Size a :data:`MIN_FACE` face is given at the short-range model's input (measured on the
#: astronaut: found 12 times in 12 from 16 px at a median score of 0.71, 3 in 12 at 14 px).
TILE_FACE = 18
#: Neighbouring tiles overlap by at least this many model pixels, so a face up to twice
#: :data:`TILE_FACE` lies whole in one tile; larger faces are left to the next, halved, level.
TILE_OVERLAP = 2 * TILE_FACE + 4
#: Most pixels of the finest tiled level (12 MP scaled by TILE_FACE / MIN_FACE: about 400 tiles).
MAX_LEVEL_PIXELS = 2_500_000
#: A whole-photo detection this wide (share of the shorter side) is a portrait, taken as it is
#: even when it scores below :data:`EXTRA_MIN_SCORE` (as the crops the shipped model was trained
#: on were: a UTKFace chip is one face filling the frame).
PORTRAIT_FACE = 0.75
#: The passes beyond the first show the model faces small or out of context; their detections must
#: score higher (a patch of hair scored 0.50 in the full-range pass).
EXTRA_MIN_SCORE = 0.75
#: A candidate face is confirmed by the short-range model on a close-up where it spans this many
#: of the model's 128 px (real faces score 0.95 there; textures that fooled a coarse pass do not).
CLOSE_FACE = 40
#: The close look confirms a candidate with a face that overlaps it this much (IoU), not with a
#: face beside it (a patch of hair or a chin next to the real face was "confirmed" by that face).
CONFIRM_IOU = 0.3
#: Squares cut at a time for the tiled and close-up passes (64 model inputs: 12 MB).
TILE_BATCH = 64
#: Whole shrink factors at which a box filter gives the area resize faster (see :func:`_shrunk`).
BOX_FILTER_FACTORS = (3, 5)

# A detection is one row of floats: its box, its six landmarks (x, y each, in the order of
# base.LANDMARKS) and its score, in pixels of the photo (or of the square it was found in).
X1, Y1, X2, Y2 = 0, 1, 2, 3
BOX = slice(0, 4)
LANDMARK_POINTS = slice(4, 16)
POINTS = slice(0, 16)  # every coordinate (box and landmarks), x and y alternating
SCORE = 16
ROW_SIZE = 17
#: The model's raw regression, as 8 (x, y) pairs per anchor: box centre, box size, 6 landmarks.
RAW_CENTRE, RAW_SIZE, RAW_LANDMARKS = 0, 1, slice(2, 8)


@dataclass(frozen=True)
class _Anchors:
    """SSD anchor centres of one BlazeFace model (MediaPipe's ssd_anchors_calculator, trimmed)."""

    size: int
    centres: np.ndarray

    @classmethod
    def build(cls, size: int, strides: list[int], per_cell: list[int]) -> _Anchors:
        centres = []
        for stride, repeats in zip(strides, per_cell):
            cells = size // stride
            grid = (np.arange(cells, dtype=np.float32) + 0.5) / cells
            ys, xs = np.meshgrid(grid, grid, indexing="ij")
            centres.append(np.repeat(np.stack([xs.ravel(), ys.ravel()], 1), repeats, axis=0))
        return cls(size, np.concatenate(centres))


#: The detector's model files, listed with their SHA-256 in ``models/manifest.json``.
MODELS_DIR = Path(__file__).parent / "models"


@dataclass(frozen=True)
class _ModelFile:
    """A shipped BlazeFace model: its file in ``models/`` (checked against that folder's manifest) and anchors."""

    filename: str
    anchors: _Anchors

    def read(self) -> bytes:
        """The file's bytes, checked against the manifest (as the age model's files are)."""
        path = verified_file(MODELS_DIR, read_manifest(MODELS_DIR, "the face detector's folder"), self.filename)
        try:
            return path.read_bytes()
        except OSError as exc:
            raise ModelFileError(f"the face detector {path} cannot be read ({exc}); reinstall faceage") from None


SHORT_RANGE = _ModelFile("face_detection_short_range.tflite", _Anchors.build(128, [8, 16], [2, 6]))
FULL_RANGE = _ModelFile("face_detection_full_range.tflite", _Anchors.build(192, [4], [1]))


class _BlazeFace:
    def __init__(self, model: _ModelFile, num_threads: int | None = None):
        self.model = TFLiteModel(model.read(), num_threads, name=f"the face detector {model.filename}")
        self.anchors = model.anchors

    @property
    def size(self) -> int:
        return self.anchors.size

    def __call__(
        self, image: np.ndarray, region: tuple[int, int, int, int], min_score: float = DETECTOR_MIN_SCORE
    ) -> np.ndarray:
        """Detections in ``image[region]`` scoring at least ``min_score``, one row each (see :data:`ROW_SIZE`)."""
        x0, y0, x1, y1 = region
        side = max(x1 - x0, y1 - y0)  # letterbox: pad to a square, keeping the aspect ratio
        scale = self.size / side
        patch = image[y0:y1, x0:x1]
        w, h = max(1, round(patch.shape[1] * scale)), max(1, round(patch.shape[0] * scale))
        resized = _shrunk(patch, w, h) if scale < 1 else cv2.resize(patch, (w, h), interpolation=cv2.INTER_LINEAR)
        square = np.full((1, self.size, self.size, 3), -1.0, np.float32)
        square[0, :h, :w] = _normalise(resized)
        rows, _ = self.run(square, min_score)
        rows[:, POINTS] = rows[:, POINTS] / scale + np.tile([x0, y0], 8)
        return rows

    def run(self, squares: np.ndarray, min_score: float = DETECTOR_MIN_SCORE) -> tuple[np.ndarray, np.ndarray]:
        """Detections scoring at least ``min_score`` in a batch of model-sized squares (values in
        [-1, 1]): rows in the squares' pixels, and the index of the square each row comes from.

        The model regresses, per anchor, 8 points (x, y) relative to the anchor's centre: the box
        centre (:data:`RAW_CENTRE`), the box size (:data:`RAW_SIZE`, a width and height, not a point)
        and the landmarks (:data:`RAW_LANDMARKS`); and one logit.
        """
        # One square a call: on LiteRT's CPU kernels a batch is no quicker than its squares in turn,
        # and each new batch size reallocates the model's tensors (the first time, 15 ms of a cold start).
        calls = [self.model.run(square[None]) for square in squares]
        raw, logits = (
            np.concatenate([next(v for v in call.values() if v.shape[-1] == k) for call in calls]) for k in (16, 1)
        )
        logits = logits[..., 0]
        scores = 1 / (1 + np.exp(-np.clip(logits, -80, 80)))
        square, anchor = np.nonzero(scores >= min_score)
        points = raw[square, anchor].reshape(-1, 8, 2)
        centres = self.anchors.centres[anchor] * self.size
        centre = points[:, RAW_CENTRE] + centres
        half = points[:, RAW_SIZE] / 2
        landmarks = points[:, RAW_LANDMARKS] + centres[:, None, :]
        rows = np.concatenate(
            [centre - half, centre + half, landmarks.reshape(len(points), 12), scores[square, anchor][:, None]], 1
        )
        return rows.astype(np.float32), square


class BlazeFaceDetector(FaceDetector):
    """MediaPipe's BlazeFace pair (short and full range) on LiteRT, with tiles for small faces."""

    name = "blazeface"
    # 2: tiled short-range pyramid with close-up confirmation; 3: portraits framed as in v1;
    # 4: every doubtful box confirmed by an overlapping close look (fewer false boxes), min_score honoured;
    # 5: a confident face's own weaker detections kept without a close look (a clear face: one pass)
    version = "5"

    def __init__(self, num_threads: int | None = None):
        super().__init__(num_threads)
        self._short = _BlazeFace(SHORT_RANGE, num_threads=num_threads)

    @functools.cached_property
    def _full(self) -> _BlazeFace:
        """The full-range model, loaded when a photo first needs it: a clear face never does."""
        return _BlazeFace(FULL_RANGE, num_threads=self.num_threads)

    def detect(self, image: np.ndarray, min_score: float = DETECTOR_MIN_SCORE) -> list[Face]:
        """Faces scoring at least ``min_score`` (in (0, 1]) in the whole-photo pass, those below
        :func:`extra_min_score` confirmed by a close look unless they are part of a face scoring
        above it; then, unless a large face was found, the faces the other passes suggest and a
        close look confirms."""
        check_min_score(min_score)
        height, width = image.shape[:2]
        found = self._short(image, (0, 0, width, height), min_score)
        bar = extra_min_score(min_score)
        widths = found[:, X2] - found[:, X1]
        portrait = (widths >= PORTRAIT_FACE * min(width, height)) & (found[:, SCORE] >= DETECTOR_MIN_SCORE)
        sure = (found[:, SCORE] >= bar) | portrait
        confident = found[found[:, SCORE] >= bar]
        kept = np.concatenate([found[sure], self._confirmed(image, found[~sure], bar, confident)])
        if not sure.any() or widths[sure].max() < SMALL_FACE * min(width, height):
            kept = np.concatenate([kept, self._search(image, kept, bar)])
        return [_to_face(row) for row in _weighted_nms(kept)]

    def _confirmed(self, image: np.ndarray, doubtful: np.ndarray, bar: float, confident: np.ndarray) -> np.ndarray:
        """The doubtful whole-photo detections whose cluster a close look confirms (scoring at least
        ``bar``), as they are: the face keeps the box it always had (a patch of hair or texture is dropped).

        A cluster every row of which the final NMS merges into a ``confident`` face (see
        :func:`_absorbed`) is kept without a look: it is that face's own weaker anchors (a clear face
        has a few), which can move its box but never make a box of their own. A clear face then
        takes one detector pass, not two (the look cost 3 of a 640x480 photo's 11 ms). Version 4
        looked at them too, and dropped such clusters from 29 of APPA-REAL's 3,478 test and val
        photos (60 of 27,821 UTKFace and APPA-REAL training photos): faint faces, whose boxes now
        move by a median 1% of their width (at most 7%); no box is added or lost."""
        clusters = _clusters(doubtful)
        leaders = _leaders(confident) if clusters else confident
        absorbed = [_absorbed(cluster, leaders) for cluster in clusters]
        looked = [cluster for cluster, taken in zip(clusters, absorbed) if not taken]
        merged = np.array([_merged(cluster) for cluster in looked], np.float32).reshape(-1, ROW_SIZE)
        seen = iter(self._close_look(image, merged)[:, SCORE] >= bar)
        # In the clusters' order, as the final NMS was always given them (its sums are in that order).
        return np.concatenate([_no_rows(), *(c for c, taken in zip(clusters, absorbed) if taken or next(seen))])

    def _search(self, image: np.ndarray, found: np.ndarray, bar: float) -> np.ndarray:
        """Faces suggested by the full-range pass or the tiles, each kept only if a close look
        confirms it. A face the whole-photo short-range pass found keeps its box (the crops the
        shipped model was trained on are framed by those boxes): the other passes frame faces
        differently, and averaging in their (scale-dependent) boxes would make the crop depend on
        the photo's resolution."""
        height, width = image.shape[:2]
        candidates = np.concatenate([self._full(image, (0, 0, width, height)), self._tiled(image)])
        if len(found):
            candidates = candidates[[not (_iou(row, found) > NMS_IOU).any() for row in candidates]]
        confirmed = self._close_look(image, np.array(_weighted_nms(candidates)).reshape(-1, ROW_SIZE))
        return confirmed[confirmed[:, SCORE] >= bar]

    def _close_look(self, image: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """Each candidate looked at again in the photo at full resolution, framed so that it spans
        :data:`CLOSE_FACE` px of the short-range model's input: one row per candidate, the best
        detection there that overlaps the candidate by :data:`CONFIRM_IOU` (score 0 where there is none)."""
        rows = [_no_rows()]
        for first in range(0, len(candidates), TILE_BATCH):
            chunk = candidates[first : first + TILE_BATCH]
            views = [_close_up(image, row, self._short.size) for row in chunk]
            found, index = self._short.run(np.stack([square for square, _, _ in views]))
            origins = np.array([origin for _, origin, _ in views], np.float32)
            scales = np.array([scale for _, _, scale in views], np.float32)
            found[:, POINTS] = found[:, POINTS] / scales[index, None] + np.tile(origins[index], 8)
            same = _iou(found, chunk[index]) >= CONFIRM_IOU
            for i in range(len(chunk)):
                mine = found[same & (index == i)]
                rows.append(mine[np.argmax(mine[:, SCORE])][None] if len(mine) else np.zeros((1, ROW_SIZE), np.float32))
        return np.concatenate(rows)

    def _tiled(self, image: np.ndarray) -> np.ndarray:
        """Detections of the short-range model over the tiles of every pyramid level."""
        rows = [_no_rows()]
        level = image
        for scale in _level_scales(image.shape[1], image.shape[0]):
            size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
            level = _shrunk(level, *size)
            found = self._level(_normalise(level))
            found[:, POINTS] /= scale
            rows.append(found)
        return np.concatenate(rows)

    def _level(self, level: np.ndarray) -> np.ndarray:
        """Detections in one normalised pyramid level, in its pixels. Each face is kept from the
        one tile whose core holds its centre: the tile that holds the whole face."""
        side = self._short.size
        xs, ys = _tile_starts(level.shape[1], side), _tile_starts(level.shape[0], side)
        padded = np.full((max(level.shape[0], side), max(level.shape[1], side), 3), -1.0, np.float32)
        padded[: level.shape[0], : level.shape[1]] = level
        grid = [(ix, iy) for iy in range(len(ys)) for ix in range(len(xs))]
        rows = [_no_rows()]
        for first in range(0, len(grid), TILE_BATCH):
            cells = np.array(grid[first : first + TILE_BATCH])
            origins = np.stack([xs[cells[:, 0]], ys[cells[:, 1]]], 1)
            found, tile = self._short.run(np.stack([padded[y : y + side, x : x + side] for x, y in origins]))
            found[:, POINTS] += np.tile(origins[tile], 8)
            centre_x, centre_y = _centres(found)
            owned = (_owner(centre_x, xs, side) == cells[tile, 0]) & (_owner(centre_y, ys, side) == cells[tile, 1])
            rows.append(found[owned])
        return np.concatenate(rows)


def extra_min_score(min_score: float) -> float:
    """The score a face below it needs from a close look to be kept: :data:`EXTRA_MIN_SCORE`, or
    ``min_score`` where that is higher. A lower ``min_score`` lets fainter faces of the whole-photo
    pass be looked at again, but the close look still has to see a face."""
    return max(min_score, EXTRA_MIN_SCORE)


def _close_up(image: np.ndarray, row: np.ndarray, size: int) -> tuple[np.ndarray, tuple[float, float], float]:
    """A ``size`` square around the box of ``row``, scaled so the box is :data:`CLOSE_FACE` px
    wide (parts outside the photo are black): the normalised square, the photo point at its
    top-left corner, and the scale."""
    scale = CLOSE_FACE / max(row[X2] - row[X1], 1.0)
    x0, y0 = (row[X1] + row[X2]) / 2 - size / scale / 2, (row[Y1] + row[Y2]) / 2 - size / scale / 2
    left, top = max(0, math.floor(x0)), max(0, math.floor(y0))
    right = min(image.shape[1], math.ceil(x0 + size / scale))
    bottom = min(image.shape[0], math.ceil(y0 + size / scale))
    square = np.full((size, size, 3), -1.0, np.float32)
    if right > left and bottom > top:
        patch = image[top:bottom, left:right]
        w, h = max(1, round(patch.shape[1] * scale)), max(1, round(patch.shape[0] * scale))
        resized = _shrunk(patch, w, h) if scale < 1 else cv2.resize(patch, (w, h), interpolation=cv2.INTER_LINEAR)
        at_x, at_y = max(0, round((left - x0) * scale)), max(0, round((top - y0) * scale))
        piece = _normalise(resized[: size - at_y, : size - at_x])
        square[at_y : at_y + piece.shape[0], at_x : at_x + piece.shape[1]] = piece
        x0, y0 = left - at_x / scale, top - at_y / scale
    return square, (x0, y0), scale


def _shrunk(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` shrunk to ``width`` x ``height`` by area averages (OpenCV's ``INTER_AREA``), pixel
    for pixel. Shrinking by 3 or 5 on both sides, the same averages come from a box filter read at
    every 3rd or 5th pixel, in a third of the time (a 640x480 photo to the model's 128 px: 0.23 ->
    0.08 ms; at 7 and more the box filter is the slower). An odd factor's k*k pixels never average
    to halfway between two levels, so the two roundings agree (the tests compare them)."""
    k = image.shape[1] // width
    if k in BOX_FILTER_FACTORS and image.shape[:2] == (k * height, k * width):
        return cv2.blur(image, (k, k))[k // 2 :: k, k // 2 :: k]
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def _normalise(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) / 127.5 - 1.0


def _level_scales(width: int, height: int) -> list[float]:
    """Scales (model pixels per photo pixel) of the tiled levels: the first makes a
    :data:`MIN_FACE` face :data:`TILE_FACE` px (within the pixel budget), each next one half of
    it, while the level is still larger than one tile (the whole-photo pass covers the rest)."""
    scale = min(TILE_FACE / MIN_FACE, math.sqrt(MAX_LEVEL_PIXELS / (width * height)))
    scales = []
    while max(width, height) * scale > SHORT_RANGE.anchors.size:
        scales.append(scale)
        scale /= 2
    return scales


def _tile_starts(length: int, side: int) -> np.ndarray:
    """Starts of tiles of ``side`` covering ``length`` with at least :data:`TILE_OVERLAP` overlap."""
    count = math.ceil(max(0, length - side) / (side - TILE_OVERLAP)) + 1
    return np.linspace(0, max(0, length - side), count).round().astype(int)


def _owner(centres: np.ndarray, starts: np.ndarray, side: int) -> np.ndarray:
    """Index of the tile whose core holds each centre (cores meet halfway through each overlap)."""
    return np.searchsorted((starts[1:] + starts[:-1] + side) / 2, centres)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of ``box`` with each of ``boxes`` (or of two equal stacks of boxes, pair by pair)."""
    x1 = np.maximum(box[..., X1], boxes[..., X1])
    y1 = np.maximum(box[..., Y1], boxes[..., Y1])
    x2 = np.minimum(box[..., X2], boxes[..., X2])
    y2 = np.minimum(box[..., Y2], boxes[..., Y2])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda b: (b[..., X2] - b[..., X1]) * (b[..., Y2] - b[..., Y1])  # noqa: E731
    return inter / np.maximum(area(box) + area(boxes) - inter, 1e-9)


def _clusters(rows: np.ndarray) -> list[np.ndarray]:
    """MediaPipe's NMS grouping: the best remaining detection and all that overlap it, in turn."""
    rows = rows[np.argsort(-rows[:, SCORE])]
    clusters = []
    while len(rows):
        overlap = _iou(rows[0], rows) > NMS_IOU
        clusters.append(rows[overlap])
        rows = rows[~overlap]
    return clusters


def _leaders(rows: np.ndarray) -> np.ndarray:
    """The best row of each of NMS's clusters of ``rows``."""
    return np.array([cluster[0] for cluster in _clusters(rows)], np.float32).reshape(-1, ROW_SIZE)


def _absorbed(rows: np.ndarray, leaders: np.ndarray) -> bool:
    """Whether NMS merges every one of ``rows`` into a cluster led by one of ``leaders``: the
    :func:`_leaders` of rows that all score more than ``rows`` (so they lead in any NMS over both),
    each of ``rows`` overlapping one of them (IoU above :data:`NMS_IOU`)."""
    return bool(len(leaders)) and bool((_iou(rows[:, None, :], leaders[None, :, :]) > NMS_IOU).any(1).all())


def _weighted_nms(rows: np.ndarray) -> list[np.ndarray]:
    """MediaPipe's weighted NMS: overlapping detections are averaged, weighted by score."""
    return [_merged(cluster) for cluster in _clusters(rows)]


def _merged(cluster: np.ndarray) -> np.ndarray:
    """One detection from a cluster: coordinates averaged by score, the best score."""
    weights = cluster[:, SCORE : SCORE + 1]
    return np.append((cluster[:, POINTS] * weights).sum(0) / weights.sum(), cluster[0, SCORE])


def _to_face(row: np.ndarray) -> Face:
    x1, y1, x2, y2 = (float(v) for v in row[BOX])
    return Face(box=(x1, y1, x2, y2), score=float(row[SCORE]), landmarks=row[LANDMARK_POINTS].reshape(-1, 2).copy())


def _centres(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The x and y of each row's box centre."""
    return (rows[:, X1] + rows[:, X2]) / 2, (rows[:, Y1] + rows[:, Y2]) / 2


def _no_rows() -> np.ndarray:
    return np.zeros((0, ROW_SIZE), np.float32)
