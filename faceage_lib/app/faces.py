"""How the app describes a face in its tables (faces come, and are numbered, in the Predictor's
reading order: :mod:`faceage_lib.inference.order`).

Plain Python: the page, the live view and the crowd table share it, so a face's words are the
same in the picture and in every table.
"""

from __future__ import annotations

from ..inference.predictor import UNCERTAIN, FaceResult


def face_cells(face: FaceResult) -> list[str]:
    """A face's table cells: age, likely range, gender, probability of the gender shown, and the
    probability that the person is under 18.

    An uncertain gender reads "uncertain" and its probability names the gender it leans to
    ("55% F"), so the number is never read as the probability of being uncertain.
    """
    probability = f"{face.gender_prob:.0%}"
    if face.gender == UNCERTAIN:
        probability += f" {face.leaning[0].upper()}"
    return [
        f"{face.age:.0f}",
        f"{face.age_low:.0f}-{face.age_high:.0f}",
        face.gender,
        probability,
        f"{face.p_under_18:.0%}",
    ]
