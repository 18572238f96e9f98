"""What the Photo tab does, as plain functions that tests call directly: a photo in, the boxed photo,
table rows and a message out; one consented feedback entry stored."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ImageError, StoreError
from ..feedback import FeedbackStore, is_consent
from ..inference.predictor import Analysis, FaceResult, Predictor
from ..render.drawing import draw_faces, fit_for_display
from .faces import face_cells
from .texts import EMPTY_MESSAGE, FEEDBACK_OFF
from .uploads import read_upload

log = logging.getLogger(__name__)

TABLE_HEADERS = ["Face", "Age", "Range", "Gender", "Prob.", "Under 18"]  # short: the table fits a phone screen
GENDER_CHOICES = ["not given", "female", "male"]
#: Faces of a photo offered for feedback (and kept in the session, about 12 KB each) at most.
MAX_FEEDBACK_FACES = 50


def analyze_photo(predictor: Predictor, image: Any) -> tuple[np.ndarray | None, list[list], str]:
    """One photo -> (annotated photo, table rows, message). Never raises on bad input.

    ``image``: a file path, bytes, PIL image or array (anything ``Predictor.analyze`` takes).
    A file that cannot be read gives ``(None, [], message)``; a photo without a face gives the
    photo itself, no rows and a message saying so.
    """
    _, annotated, rows, message = analyze(predictor, image)
    return annotated, rows, message


def analyze(predictor: Predictor, image: Any) -> tuple[Analysis | None, np.ndarray | None, list[list], str]:
    if image is None:
        return None, None, [], EMPTY_MESSAGE
    try:
        analysis = predictor.analyze(read_upload(image))
    except ImageError as error:
        return None, None, [], f"**This file could not be read as a photo.** {_sentence(str(error))}"
    faces = analysis.faces
    if not faces:
        message = (
            "**No face found.** Try a photo where the face is larger, lit from the front and looking at the camera."
        )
        return analysis, fit_for_display(analysis.image), [], message
    annotated = draw_faces(analysis.image, analysis.on_image())
    message = f"**Found {len(faces)} face{'s' if len(faces) != 1 else ''}.**"
    if len(faces) > 1:
        message += " Numbered row by row, left to right, as in the table."
    return analysis, annotated, table_rows(faces), message


def table_rows(faces: Sequence[FaceResult]) -> list[list]:
    """One row per face: number, age, likely range, gender, probability of that gender."""
    return [[i, *face_cells(face)] for i, face in enumerate(faces, 1)]


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


# --------------------------------------------------------------------------- feedback


def save_feedback(
    store: FeedbackStore,
    faces: Sequence[FaceResult],
    crops: np.ndarray,
    face_number: Any,
    true_age: Any,
    true_gender: str | None,
    consent: bool,
) -> tuple[bool, str]:
    """Store one consented entry for face ``face_number`` (1-based); returns (stored, message)."""
    if not faces:
        return False, "Analyse a photo with a face first."
    if not is_consent(consent):  # only True: the strings "false", "0", ... are not consent
        return False, "Nothing was stored: tick the consent box to send this face's crop and age."
    try:
        number = int(face_number)
    except (TypeError, ValueError):
        number = 0
    if not 1 <= number <= len(faces):
        return False, f"Choose a face: 1 to {len(faces)}."
    if true_age is None or (isinstance(true_age, str) and not true_age.strip()):
        return False, "Enter the real age (0 to 120 years)."
    face = faces[number - 1]
    gender = None if true_gender in (None, "", GENDER_CHOICES[0]) else true_gender
    try:
        entry = store.add(
            np.asarray(crops[number - 1]),
            face.age,
            face.gender,
            face.gender_prob,
            true_age,
            consent=consent,
            true_gender=gender,
        )
    except ValueError as error:
        return False, f"Nothing was stored: {error}."
    except StoreError as error:
        log.error("storing feedback failed: %s", error)
        return False, f"Nothing was stored: the feedback database could not be written ({error.reason})."
    return True, f"Thank you: feedback #{entry} for face {number} was stored."


def open_store() -> tuple[FeedbackStore | None, str]:
    """The default feedback store, or ``(None, why feedback is off)`` if it cannot be opened."""
    try:
        return FeedbackStore(), ""
    except StoreError as error:
        log.error("feedback is switched off: %s", error)
        return None, FEEDBACK_OFF.format(reason=error.reason)


def face_table(rows: list[list]):
    import pandas as pd

    return pd.DataFrame(rows, columns=TABLE_HEADERS)
