"""Video files: every person followed from frame to frame, an annotated copy, one summary per person.

:func:`analyze_video` reads a clip with OpenCV (mp4, webm, mov, ...), analyses up to
:data:`ANALYSED_FPS` frames a second with the :class:`~faceage_lib.Predictor`, follows faces with
the live view's tracker, and writes the clip back with boxes and labels (WebM, VP8: it plays in
browsers). Each track becomes a :class:`Person`: the median age shown, the likely range, the
gender from the mean P(female), and how long they were seen. Limits: :data:`MAX_VIDEO_BYTES`,
:data:`MAX_VIDEO_SECONDS`, :data:`MAX_FRAME_PIXELS`; anything else raises :class:`VideoError`.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .errors import VideoError
from .inference.predictor import Predictor, decide_gender
from .render.drawing import draw_faces
from .render.tracking import FaceTracker

MAX_VIDEO_BYTES = 200 * 2**20
MAX_VIDEO_SECONDS = 300
MAX_FRAME_PIXELS = 1920 * 1080
#: Frames analysed per second of video at most; the frames between show the last boxes.
ANALYSED_FPS = 10
#: A track seen in fewer analysed frames than this is not reported as a person (a passing false box).
MIN_TRACK_FRAMES = 3


@dataclass
class Person:
    """One track: who the model saw, frame after frame."""

    id: int
    ages: list[float] = field(default_factory=list)
    lows: list[float] = field(default_factory=list)
    highs: list[float] = field(default_factory=list)
    p_female: list[float] = field(default_factory=list)
    p_under_18: list[float] = field(default_factory=list)
    first_s: float = 0.0
    last_s: float = 0.0

    def summary(self, min_confidence: float, frame_s: float) -> dict:
        """Median age and range, gender from the mean P(female), the median P(under 18), seconds seen,
        first and last time seen."""
        p_female = float(np.mean(self.p_female))
        gender, probability = decide_gender(p_female, min_confidence)
        return {
            "person": self.id,
            "age": round(statistics.median(self.ages), 1),
            "age_low": round(statistics.median(self.lows), 1),
            "age_high": round(statistics.median(self.highs), 1),
            "gender": gender,
            "gender_prob": round(probability, 4),
            "p_female": round(p_female, 4),
            "p_under_18": round(statistics.median(self.p_under_18), 4),
            "seconds_seen": round(len(self.ages) * frame_s, 2),
            "first_seen_s": round(self.first_s, 2),
            "last_seen_s": round(self.last_s, 2),
        }


@dataclass
class VideoResult:
    """What :func:`analyze_video` found: one summary per person, and per analysed frame if asked."""

    fps: float
    frames: int
    seconds: float
    people: list[dict]
    annotated: Path | None = None
    per_frame: list[dict] | None = None


def check_video(path: str | os.PathLike) -> cv2.VideoCapture:
    """An open capture of ``path`` within the limits, else :class:`VideoError` saying what is wrong."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as error:
        raise VideoError(f"{path.name}: cannot be read ({error.strerror or error})") from None
    if size > MAX_VIDEO_BYTES:
        raise VideoError(f"{path.name}: {size / 2**20:.0f} MB, more than the {MAX_VIDEO_BYTES // 2**20} MB limit")
    capture = cv2.VideoCapture(str(path))
    fps, frames = capture.get(cv2.CAP_PROP_FPS), capture.get(cv2.CAP_PROP_FRAME_COUNT)
    width, height = capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)
    if not capture.isOpened() or not fps or fps <= 0 or width <= 0 or height <= 0:
        capture.release()
        raise VideoError(f"{path.name}: not a video that can be read (mp4, webm or mov, with a common codec)")
    if frames / fps > MAX_VIDEO_SECONDS:
        capture.release()
        raise VideoError(f"{path.name}: {frames / fps:.0f} s long, more than the {MAX_VIDEO_SECONDS} s limit")
    if width * height > MAX_FRAME_PIXELS:
        capture.release()
        raise VideoError(f"{path.name}: frames of {width:.0f}x{height:.0f}, more than 1920x1080")
    return capture


def analyze_video(
    predictor: Predictor,
    path: str | os.PathLike,
    annotated: str | os.PathLike | None = None,
    per_frame: bool = False,
    progress: Callable[[float], None] | None = None,
) -> VideoResult:
    """Follow every face of the video at ``path``; write the annotated clip to ``annotated`` (a
    ``.webm``) if given. ``progress`` is called with the share done (0-1) as frames are read."""
    capture = check_video(path)
    fps = capture.get(cv2.CAP_PROP_FPS)
    total = max(1, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
    step = max(1, round(fps / ANALYSED_FPS))
    tracker = FaceTracker(predictor.estimator.gender_min_confidence)
    people: dict[int, Person] = {}
    frames: list[dict] = []
    writer, shown, index = None, [], 0
    try:
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            moment = index / fps
            if index % step == 0:
                shown = [track for track in tracker.update(predictor.predict(rgb)) if track.missed == 0]
                for track in shown:
                    _record(people.setdefault(track.id, Person(track.id, first_s=moment)), track.face, moment)
                if per_frame:
                    frames.append(
                        {
                            "frame": index,
                            "time_s": round(moment, 3),
                            "faces": [{"person": t.id, **t.face.to_dict()} for t in shown],
                        }
                    )
            if annotated is not None:
                drawn = draw_faces(
                    rgb, [t.face for t in shown], max_side=max(rgb.shape[:2]), colours=[t.id - 1 for t in shown]
                )
                writer = writer or _writer(annotated, fps, drawn.shape[1], drawn.shape[0])
                writer.write(cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR))
            index += 1
            if progress and index % step == 0:
                progress(min(1.0, index / total))
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    if index == 0:
        raise VideoError(f"{Path(path).name}: no frame could be read")
    kept = sorted((p for p in people.values() if len(p.ages) >= MIN_TRACK_FRAMES), key=lambda p: (p.first_s, p.id))
    numbers = {person.id: number for number, person in enumerate(kept, 1)}  # from 1, as they appear
    confidence = predictor.estimator.gender_min_confidence
    summaries = [{**person.summary(confidence, step / fps), "person": numbers[person.id]} for person in kept]
    for frame in frames:
        frame["faces"] = [{**face, "person": numbers.get(face["person"])} for face in frame["faces"]]
    return VideoResult(
        round(fps, 3),
        index,
        round(index / fps, 2),
        summaries,
        Path(annotated) if annotated is not None and writer is not None else None,
        frames if per_frame else None,
    )


def _record(person: Person, face, moment: float) -> None:
    person.ages.append(face.age)
    person.lows.append(face.age_low)
    person.highs.append(face.age_high)
    person.p_female.append(face.p_female)
    person.p_under_18.append(face.p_under_18)
    person.last_s = moment


def _advance(bar) -> Callable[[float], None]:
    """A progress callback (the share done, 0-1) that moves ``bar`` (out of 100)."""
    return lambda done: bar.update(round(done * 100) - bar.n)


def _writer(path: str | os.PathLike, fps: float, width: int, height: int) -> cv2.VideoWriter:
    vp8 = cv2.VideoWriter_fourcc(*"VP80")  # type: ignore[attr-defined]  # (missing from OpenCV's stubs)
    writer = cv2.VideoWriter(str(path), vp8, fps, (width, height))
    if not writer.isOpened():
        raise VideoError(f"the annotated video cannot be written to {path}")
    return writer


def predict_videos(
    predictor: Predictor, paths: list[str | os.PathLike], per_frame: bool = False, progress: bool = False
) -> list[dict]:
    """One ``{"path", "seconds", "people", "error"}`` record per video (``"frames"`` too with
    ``per_frame``), as ``faceage predict clip.mp4`` prints it; a bad video gets its ``error``."""
    records = []
    for path in paths:
        bar = _progress_bar(Path(path).name) if progress else None
        try:
            result = analyze_video(predictor, path, per_frame=per_frame, progress=_advance(bar) if bar else None)
            record = {
                "path": str(path),
                "seconds": result.seconds,
                "fps": result.fps,
                "people": result.people,
                "error": None,
            }
            if per_frame:
                record["frames"] = result.per_frame
        except VideoError as error:
            record = {"path": str(path), "seconds": None, "fps": None, "people": [], "error": str(error)}
        finally:
            if bar:
                bar.close()
        records.append(record)
    return records


def _progress_bar(name: str):
    import sys

    from tqdm import tqdm

    return tqdm(total=100, desc=name, unit="%", file=sys.stderr)
