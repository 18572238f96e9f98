"""How the app numbers and describes faces: reading order and the table's cells.

Plain Python: the page, the live view and the crowd table share it, so a face's number and
words are the same in the picture and in every table.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..inference.predictor import UNCERTAIN, FaceResult

#: Two faces are in one row when their boxes overlap vertically by at least this share of the
#: shorter box's height.
ROW_OVERLAP = 0.5


def reading_order(faces: Sequence[FaceResult]) -> list[int]:
    """Indices of ``faces`` in reading order: rows top to bottom, left to right within a row.

    A face joins the current row when its box overlaps the row's first face vertically by at
    least :data:`ROW_OVERLAP` of the shorter height; otherwise it starts a new row.
    """
    by_top = sorted(range(len(faces)), key=lambda i: (faces[i].box[1], faces[i].box[0]))
    rows: list[list[int]] = []
    for index in by_top:
        if rows and _same_row(faces[rows[-1][0]].box, faces[index].box):
            rows[-1].append(index)
        else:
            rows.append([index])
    return [i for row in rows for i in sorted(row, key=lambda i: faces[i].box[0])]


def _same_row(first: Sequence[float], other: Sequence[float]) -> bool:
    overlap = min(first[3], other[3]) - max(first[1], other[1])
    shorter = min(first[3] - first[1], other[3] - other[1])
    return shorter > 0 and overlap >= ROW_OVERLAP * shorter


def face_cells(face: FaceResult) -> list[str]:
    """A face's table cells: age, likely range, gender, probability of the gender shown.

    An uncertain gender reads "uncertain" and its probability names the gender it leans to
    ("55% F"), so the number is never read as the probability of being uncertain.
    """
    probability = f"{face.gender_prob:.0%}"
    if face.gender == UNCERTAIN:
        probability += f" {face.leaning[0].upper()}"
    return [f"{face.age:.0f}", f"{face.age_low:.0f}-{face.age_high:.0f}", face.gender, probability]
