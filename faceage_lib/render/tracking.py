"""Follow faces across video frames, so that the live view's boxes and labels hold still.

Each detection is matched to a track by box overlap (IoU); a matched track's box, age and
P(female) are smoothed and its gender decided from the smoothed P(female): the estimates are the
mean of the track's frames at first, then an exponential moving average (a new face settles at
once, a still one holds still). A track missed for a few frames is still shown, then dropped.

The model need not look at every face of every frame: :meth:`FaceTracker.stale` says which
detections need an estimate (a new face, one that moved, a track still settling or not
estimated for a while); the others are given to :meth:`FaceTracker.update` as their box alone
and keep their track's estimate. Plain Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import count

from ..inference.predictor import FaceResult, decide_gender

Box = Sequence[float]
#: A detection overlapping the box its track was last estimated at this much (IoU) has not moved.
STILL_IOU = 0.8
#: Estimates a track takes on every look before a still face is left to its average.
SETTLE = 10
#: Looks at most between two estimates of a still face (at 15 looks a second, one a second).
REFRESH = 15


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes; 0 when they do not overlap."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


@dataclass
class Track:
    """One face followed across frames: its id, its smoothed estimate, frames since last seen,
    frames it was detected in, and how many estimates it holds and since when."""

    id: int
    face: FaceResult
    estimated_box: Box  # the detection's box at the latest estimate
    missed: int = 0
    seen: int = 1
    estimated: int = 1  # model estimates blended into ``face``
    looks_since_estimate: int = 0


class FaceTracker:
    """Matches each frame's faces to tracks and smooths their estimates; one per video stream.

    ``min_confidence``: the model's gender threshold (``Predictor.estimator.gender_min_confidence``);
    ``smoothing``: the least weight of the newest frame in the average of age and P(female) (the
    newest of a track's ``n`` frames weighs ``max(1 / n, smoothing)``; 1 = no smoothing). At 0.1 a
    still face's age over 10 s of webcam noise spreads half as much as a moving average at 0.3
    (``benchmarks/live_browser.py``'s jitter), and a new face's estimate is its frames' mean;
    ``box_smoothing``: the same for the box, higher so that boxes keep up
    with a moving head; ``min_iou``: the overlap a detection needs to continue a track; ``max_missed``: frames a
    track is kept (and shown) without a detection.
    """

    def __init__(
        self,
        min_confidence: float,
        smoothing: float = 0.1,
        box_smoothing: float = 0.6,
        min_iou: float = 0.3,
        max_missed: int = 5,
    ):
        self.min_confidence = min_confidence
        self.smoothing = smoothing
        self.box_smoothing = box_smoothing
        self.min_iou = min_iou
        self.max_missed = max_missed
        self.tracks: list[Track] = []
        self.frames = 0  # frames taken so far, with faces (update) or without a look (carry)
        self._ids = count(1)

    def stale(self, boxes: Sequence[Box]) -> list[bool]:
        """Which of a frame's detections (boxes, in :meth:`update`'s order) the model should estimate:
        a new face, one that moved (IoU under :data:`STILL_IOU` with its box at its track's last
        estimate), a track with fewer than :data:`SETTLE` estimates, or one not estimated for
        :data:`REFRESH` looks."""
        matches = {face: self.tracks[track] for track, face in self._match(boxes).items()}
        return [
            index not in matches
            or matches[index].estimated < SETTLE
            or matches[index].looks_since_estimate + 1 >= REFRESH
            or iou(matches[index].estimated_box, box) < STILL_IOU
            for index, box in enumerate(boxes)
        ]

    def update(self, faces: Sequence[FaceResult | Box]) -> list[Track]:
        """Take one frame's faces; returns the tracks to show, oldest first. A face given as its box
        alone (one :meth:`stale` said needs no estimate) moves its track's box and keeps its estimate;
        one that matches no track is left out."""
        self.frames += 1
        matches = self._match([face.box if isinstance(face, FaceResult) else face for face in faces])
        for track_index, face_index in matches.items():
            track, face = self.tracks[track_index], faces[face_index]
            track.seen, track.missed = track.seen + 1, 0
            if isinstance(face, FaceResult):
                track.estimated += 1
                weight = max(1 / track.estimated, self.smoothing)
                track.face = self._blend(track.face, face, weight)
                track.estimated_box, track.looks_since_estimate = face.box, 0
            else:
                track.face = replace(track.face, box=self._moved(track.face.box, face))
                track.looks_since_estimate += 1
        for track_index, track in enumerate(self.tracks):
            if track_index not in matches:
                track.missed += 1
        self.tracks = [track for track in self.tracks if track.missed <= self.max_missed]
        matched = set(matches.values())
        self.tracks += [
            Track(next(self._ids), face, face.box)
            for i, face in enumerate(faces)
            if i not in matched and isinstance(face, FaceResult)
        ]
        return list(self.tracks)

    def carry(self) -> list[Track]:
        """Take a frame nobody looked for faces in: the tracks to show on it, as they were (none
        counts as missed)."""
        self.frames += 1
        return list(self.tracks)

    def _match(self, boxes: Sequence[Box]) -> dict[int, int]:
        """Track index -> box index: the pairs of highest IoU first, each track and box used once."""
        pairs = sorted(
            ((iou(track.face.box, box), t, f) for t, track in enumerate(self.tracks) for f, box in enumerate(boxes)),
            reverse=True,
        )
        matches: dict[int, int] = {}
        for overlap, t, f in pairs:
            if overlap < self.min_iou:
                break
            if t not in matches and f not in matches.values():
                matches[t] = f
        return matches

    def _blend(self, old: FaceResult, new: FaceResult, weight: float) -> FaceResult:
        """The average of ``old`` and ``new`` with ``new`` weighing ``weight`` (age, range, P(female),
        P(under 18); the box weighs ``box_smoothing``); gender from the average."""

        def mix(a: float, b: float, weight: float = weight) -> float:
            return (1 - weight) * a + weight * b

        p_female = mix(old.p_female, new.p_female)
        gender, probability = decide_gender(p_female, self.min_confidence)
        return replace(
            new,
            box=self._moved(old.box, new.box),
            age=mix(old.age, new.age),
            age_low=mix(old.age_low, new.age_low),
            age_high=mix(old.age_high, new.age_high),
            gender=gender,
            gender_prob=probability,
            p_female=p_female,
            p_under_18=mix(old.p_under_18, new.p_under_18),
        )

    def _moved(self, old: Box, new: Box) -> tuple[int, int, int, int]:
        """The track's box moved towards the detection's (``new`` weighs ``box_smoothing``)."""
        x1, y1, x2, y2 = (round((1 - self.box_smoothing) * a + self.box_smoothing * b) for a, b in zip(old, new))
        return x1, y1, x2, y2
