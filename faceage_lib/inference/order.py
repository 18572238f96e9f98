"""The one order faces are given and numbered in everywhere: reading order, rows top to bottom,
left to right within a row (the API's results, the CLI's JSON and CSV, the app, the drawing)."""

from __future__ import annotations

from collections.abc import Sequence

Box = Sequence[float]  # x1, y1, x2, y2

#: A new row starts where the next face's centre lies lower than the previous one's by more than
#: this share of the smaller face's height. People in one row stand at different heights (a face
#: half a face lower is still in the row); rows of a group photo are a face height or more apart.
ROW_GAP = 0.6


def reading_order(boxes: Sequence[Box]) -> list[int]:
    """Indices of ``boxes`` in reading order: rows top to bottom, left to right within a row.

    The boxes are taken by the height of their centres; each gap between one centre and the next
    larger than :data:`ROW_GAP` of the smaller of the two faces' heights starts a new row. A row
    that steps down face by face (a staggered row, a tilted photo) thus stays one row.
    """
    by_centre = sorted(range(len(boxes)), key=lambda i: (_centre(boxes[i]), boxes[i][0]))
    rows: list[list[int]] = []
    for index in by_centre:
        if rows and not _new_row(boxes[rows[-1][-1]], boxes[index]):
            rows[-1].append(index)
        else:
            rows.append([index])
    return [i for row in rows for i in sorted(row, key=lambda i: boxes[i][0])]


def _centre(box: Box) -> float:
    return (box[1] + box[3]) / 2


def _new_row(previous: Box, box: Box) -> bool:
    smaller = min(previous[3] - previous[1], box[3] - box[1])
    return _centre(box) - _centre(previous) > ROW_GAP * max(smaller, 0)
