"""Labels on group photos, checked geometrically: no label covers another label or another face's
box, whatever the face sizes and spacing (faceage_lib.render.drawing.layout, as draw_faces draws it)."""

from __future__ import annotations

import numpy as np
import pytest

from faceage_lib.inference.predictor import FaceResult
from faceage_lib.render.drawing import PALETTE, draw_faces, layout


def face(box, age: float = 34.4) -> FaceResult:
    return FaceResult(
        box=tuple(box),
        score=0.9,
        age=age,
        age_low=age - 5,
        age_high=age + 7,
        gender="female",
        gender_prob=0.87,
        p_female=0.87,
        p_under_18=0.02,
    )


def grid(width: int, height: int, across: int, down: int, side: int, rng: np.random.Generator) -> list[FaceResult]:
    """``across`` x ``down`` faces of about ``side`` px, one per cell, at a random place in it."""
    cell_w, cell_h = width // across, height // down
    faces = []
    for row in range(down):
        for col in range(across):
            s = int(side * rng.uniform(0.8, 1.2))
            x = col * cell_w + int(rng.integers(0, max(1, cell_w - s)))
            y = row * cell_h + int(rng.integers(0, max(1, cell_h - s)))
            faces.append(face((x, y, min(width, x + s), min(height, y + s)), age=float(rng.integers(1, 90))))
    return faces


def overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def check(image: np.ndarray, faces: list[FaceResult]):
    plan = layout(image, faces)
    width, height = plan.size
    labels = [(i, label[1]) for i, label in enumerate(plan.labels) if label]
    for i, rect in labels:
        assert 0 <= rect[0] and rect[2] <= width and 0 <= rect[1] and rect[3] <= height, (i, rect)
        for j, box in enumerate(plan.boxes):
            if j != i:
                assert not overlap(rect, box), f"label {i + 1} covers face {j + 1}'s box"
        for j, other in labels:
            if j != i:
                assert not overlap(rect, other), f"label {i + 1} covers label {j + 1}"
    return plan


def test_six_faces_in_a_grid_each_keep_their_whole_label():
    """The case people met: a 1030x770 grid of six faces, where the next label hid the age range."""
    image = np.zeros((770, 1030, 3), np.uint8)
    faces = [face((x, y, x + 170, y + 170)) for y in (110, 470) for x in (80, 420, 760)]
    plan = check(image, faces)
    assert [label[0] for label in plan.labels] == [f"{n}: F 34 (29-41)" for n in range(1, 7)]


@pytest.mark.parametrize("seed", range(12))
def test_labels_never_cover_a_label_or_another_box(seed):
    rng = np.random.default_rng(seed)
    width, height = int(rng.integers(300, 4000)), int(rng.integers(300, 3000))
    across, down = int(rng.integers(1, 8)), int(rng.integers(1, 6))
    side = min(width // across, height // down) * rng.uniform(0.3, 0.95)
    faces = grid(width, height, across, down, max(8, int(side)), rng)
    plan = check(np.zeros((height, width, 3), np.uint8), faces)
    assert sum(label is not None for label in plan.labels) >= len(faces) * 0.8  # nearly all get one


def test_a_face_with_no_room_gets_its_number_and_the_drawing_follows_the_layout():
    """Faces packed edge to edge: no room above or below, so labels go inside the boxes, or shrink
    to the face's number; the drawn picture has each label's colour where the layout put it."""
    image = np.zeros((200, 600, 3), np.uint8)
    faces = [face((x, 0, x + 60, 200)) for x in range(0, 600, 60)]
    plan = check(image, faces)
    assert all(plan.labels)
    drawn = draw_faces(image, faces)
    for i, (text, (x1, y1, x2, y2)) in enumerate(plan.labels):
        inside = drawn[y1 + 1 : y2 - 1, x1 + 1 : x2 - 1].astype(int)
        assert (np.abs(inside - PALETTE[i % len(PALETTE)]).max(axis=2) <= 2).mean() > 0.3, text
