"""The one order faces are given and numbered in everywhere: reading order, rows top to bottom,
left to right within a row (the API's results, the CLI's JSON and CSV, the app, the drawing)."""

from __future__ import annotations

from collections.abc import Sequence

Box = Sequence[float]  # x1, y1, x2, y2

#: Two faces are in one row when their boxes overlap vertically by at least this share of the
#: shorter box's height.
ROW_OVERLAP = 0.5


def reading_order(boxes: Sequence[Box]) -> list[int]:
    """Indices of ``boxes`` in reading order: rows top to bottom, left to right within a row.

    A box joins the current row when it overlaps the row's first box vertically by at least
    :data:`ROW_OVERLAP` of the shorter height; otherwise it starts a new row.
    """
    by_top = sorted(range(len(boxes)), key=lambda i: (boxes[i][1], boxes[i][0]))
    rows: list[list[int]] = []
    for index in by_top:
        if rows and _same_row(boxes[rows[-1][0]], boxes[index]):
            rows[-1].append(index)
        else:
            rows.append([index])
    return [i for row in rows for i in sorted(row, key=lambda i: boxes[i][0])]


def _same_row(first: Box, other: Box) -> bool:
    overlap = min(first[3], other[3]) - max(first[1], other[1])
    shorter = min(first[3] - first[1], other[3] - other[1])
    return shorter > 0 and overlap >= ROW_OVERLAP * shorter
