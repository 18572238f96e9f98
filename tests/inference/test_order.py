"""faceage_lib.inference.order: the reading order faces are numbered in."""

from __future__ import annotations

import numpy as np

from faceage_lib.inference.order import reading_order


def row(tops, height=60, gap=260, x=20):
    """Boxes side by side, ``gap`` px apart, with the given tops."""
    return [(x + i * gap, top, x + i * gap + height, top + height) for i, top in enumerate(tops)]


def test_a_staggered_row_is_one_row_numbered_left_to_right():
    for height in (56, 60, 64):  # faces about 60 px tall, the middle one half a face lower
        assert reading_order(row([40, 70, 40], height)) == [0, 1, 2]
    assert reading_order(row([70, 40, 70, 40, 70])) == [0, 1, 2, 3, 4]  # given in any order: the same


def test_two_rows_400_px_apart_are_two_rows():
    top, bottom = row([40, 70, 40]), row([440, 470, 440], x=60)
    boxes = [bottom[2], top[1], bottom[0], top[2], bottom[1], top[0]]
    ordered = [boxes[i] for i in reading_order(boxes)]
    assert ordered == top + bottom


def test_a_row_that_steps_down_face_by_face_stays_one_row():
    tilted = row([40 + 25 * i for i in range(6)])  # a photo held askew: each face 25 px lower
    assert reading_order(tilted[::-1]) == [5, 4, 3, 2, 1, 0]  # indices of the reversed list, left to right


def test_small_faces_behind_a_large_one_form_their_own_row():
    large = (200, 300, 500, 600)  # a face near the camera
    behind = row([100, 110, 95], height=40, gap=150)  # people far behind, above it in the photo
    assert reading_order([large, *behind]) == [1, 2, 3, 0]


def test_the_order_does_not_depend_on_the_order_given():
    boxes = row([40, 70, 40]) + row([440, 470, 440], x=60) + [(900, 900, 960, 960)]
    expected = [boxes[i] for i in reading_order(boxes)]
    for seed in range(5):
        shuffled = [boxes[i] for i in np.random.default_rng(seed).permutation(len(boxes))]
        assert [shuffled[i] for i in reading_order(shuffled)] == expected
    assert reading_order([]) == []
