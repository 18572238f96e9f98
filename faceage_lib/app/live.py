"""The live webcam view: each frame of a stream annotated with its tracked, smoothed faces.

:func:`annotate_frame` is the stream handler's work, without Gradio: the page keeps one
:class:`~faceage_lib.render.tracking.FaceTracker` per browser session and passes it in.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
from PIL import Image

from ..errors import ImageError
from ..inference.predictor import Located, Predictor, on_image
from ..render.drawing import draw_faces, draw_hint
from ..render.tracking import FaceTracker, Track
from .uploads import read_upload

#: Shown on the live view while no face is found.
NO_FACE_HINT = "No face found: face the camera, in good light"
#: JPEG quality of the frames sent back to the browser: small and quick to encode.
FRAME_QUALITY = 80
#: The detector and the model look at every DETECT_EVERY-th frame (and at every frame while no face is
#: tracked); the frames between show the tracks' boxes and labels as they were. At a webcam's 30 frames
#: a second that is 15 looks a second, and a box follows a moving head one frame (33 ms) late
#: (benchmarks/live_browser.py: the frames a second it gives, and the still face's age).
DETECT_EVERY = 2


def new_tracker(predictor: Predictor) -> FaceTracker:
    """A tracker that decides gender with ``predictor``'s model threshold."""
    return FaceTracker(predictor.estimator.gender_min_confidence)


def annotate_frame(
    predictor: Predictor, frame: Any, tracker: FaceTracker | None
) -> tuple[np.ndarray | None, FaceTracker]:
    """One frame -> (the frame with a box and label per tracked face, the updated tracker).

    ``frame``: an RGB array, or the upload's path or ``data:`` URL, read within the same limits as
    a photo (:func:`.uploads.read_upload`). Faces are looked for in every :data:`DETECT_EVERY`-th
    frame, and the model estimates only those new or moved (or due for a fresh look). A track keeps
    its colour while it lives; a frame without a face gets :data:`NO_FACE_HINT`; a frame that
    cannot be read gives no picture (``None``) and leaves the tracks as they were.
    """
    tracker = tracker if tracker is not None else new_tracker(predictor)
    if frame is None:
        return None, tracker
    look = not tracker.tracks or tracker.frames % DETECT_EVERY == 0
    try:  # a frame not looked at is decoded all the same (the same limits), with no face boxes
        located = predictor.locate(read_upload(frame), None if look else ())
    except ImageError:
        return None, tracker
    tracks = _tracked(predictor, located, tracker) if look else tracker.carry()
    image = located.photo.pixels
    if not tracks:
        return draw_hint(image, NO_FACE_HINT), tracker
    faces = on_image([track.face for track in tracks], located.photo.scale)
    return draw_faces(image, faces, colours=[track.id - 1 for track in tracks]), tracker


def _tracked(predictor: Predictor, located: Located, tracker: FaceTracker) -> list[Track]:
    """The tracks after a looked-at frame: the model estimates only the faces the tracker says are
    new, moved or due (:meth:`~faceage_lib.render.tracking.FaceTracker.stale`); the others move
    their track's box and keep its estimate."""
    boxes = located.boxes()
    stale = [i for i, due in enumerate(tracker.stale(boxes)) if due]
    estimates = dict(zip(stale, predictor.estimate(located, stale)))
    return tracker.update([estimates.get(i, box) for i, box in enumerate(boxes)])


def jpeg_data_url(frame: np.ndarray, quality: int = FRAME_QUALITY) -> str:
    """A frame as a ``data:image/jpeg;base64,...`` URL (sent inline: no file per frame on the server)."""
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
