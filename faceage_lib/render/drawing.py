"""Draw each face's box and label on a photo, sized to read well at any resolution.

Plain Pillow: the app, the notebooks and scripts use it without importing Gradio.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..inference.predictor import FaceResult

#: The annotated photo's longer side is scaled into this range (pixels) for display.
MAX_DISPLAY_SIDE = 1600
MIN_DISPLAY_SIDE = 480
#: Where there are several faces, the font is at most the typical face width over this.
CROWDED_FONT = 5
#: Box colours, one per face (cycled), chosen to stand out on skin, sky and grey.
PALETTE = (
    (0, 200, 255),
    (255, 140, 0),
    (60, 220, 60),
    (255, 60, 160),
    (150, 110, 255),
    (255, 230, 0),
    (0, 230, 180),
    (255, 80, 80),
)


def fit_for_display(
    image: np.ndarray, max_side: int = MAX_DISPLAY_SIDE, min_side: int = MIN_DISPLAY_SIDE
) -> np.ndarray:
    """The photo scaled so that its longer side is at most ``max_side`` pixels and, for tiny
    photos, at least ``min_side`` (so that boxes and labels stay sharp when the page enlarges it)."""
    height, width = image.shape[:2]
    size = _display_size(width, height, max_side, min_side)
    if size == (width, height):
        return image
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))


Rect = tuple[int, int, int, int]  # x1, y1, x2, y2 in pixels of the drawn picture


@dataclass(frozen=True)
class Layout:
    """Where everything goes in the drawn picture: the boxes, and each face's label (its text and
    rectangle, or ``None`` where not even its number fits without covering something)."""

    size: tuple[int, int]  # width, height
    boxes: list[Rect]
    labels: list[tuple[str, Rect] | None]
    font_px: int
    line: int


def layout(
    image: np.ndarray, faces: Sequence[FaceResult], max_side: int = MAX_DISPLAY_SIDE, numbered: bool | None = None
) -> Layout:
    """The boxes and labels of :func:`draw_faces`, placed so that no label covers another label
    or another face's box.

    Each face's label goes above its box, below it or inside it, at its left or right edge,
    whichever is free first; where none is, the face gets its number only (the table has the
    rest); where not even that fits, no label. ``numbered``: whether labels start with the face's
    number (default: when there are several faces).
    """
    height, width = image.shape[:2]
    shown_w, shown_h = _display_size(width, height, max_side)
    scale = shown_w / width
    side = max(shown_w, shown_h)
    line = max(2, round(side / 300))
    font_px = max(12, round(side / 26))
    if len(faces) > 1:  # several faces: a label about as wide as 1.5 typical faces (a fifth in font size)
        typical = float(np.median([(f.box[2] - f.box[0]) * scale for f in faces]))
        font_px = max(12, min(font_px, round(typical / CROWDED_FONT)))
    font, pad = _font(font_px), max(2, font_px // 5)
    numbered = len(faces) > 1 if numbered is None else numbered
    boxes = [_scaled(face.box, scale) for face in faces]
    # what a label must not cover: the other faces' boxes, outline included
    guards = [(x1 - line, y1 - line, x2 + line, y2 + line) for x1, y1, x2, y2 in boxes]
    labels: list[tuple[str, Rect] | None] = []
    placed: list[Rect] = []
    for number, (face, box) in enumerate(zip(faces, boxes), 1):
        texts = [f"{number}: {face.label}", str(number)] if numbered else [face.label, f"{face.age:.0f}"]
        others = [guard for i, guard in enumerate(guards) if i != number - 1] + placed
        label = None
        for text in texts:
            left, top, right, bottom = font.getbbox(text)
            size = (int(right - left + 2 * pad), int(bottom - top + 2 * pad))
            spots = _spots(box, size, shown_w, shown_h, line)
            rect = next((r for r in spots if not any(_overlap(r, o) for o in others)), None)
            if rect:
                label = (text, rect)
                placed.append(rect)
                break
        labels.append(label)
    return Layout((shown_w, shown_h), boxes, labels, font_px, line)


def draw_faces(
    image: np.ndarray,
    faces: Sequence[FaceResult],
    max_side: int = MAX_DISPLAY_SIDE,
    colours: Sequence[int] | None = None,
) -> np.ndarray:
    """A copy of ``image`` (see :func:`fit_for_display`) with a box and a label per face (see :func:`layout`).

    Faces are numbered 1, 2, ... in the order given (when there are several), each in the
    next palette colour. ``colours`` (e.g. the live view's track ids) picks each face's palette
    slot instead, and the labels are then not numbered. Line width and font scale with the
    picture, so labels read the same on a 300-pixel thumbnail and on a 24-megapixel photo.
    """
    plan = layout(image, faces, max_side, numbered=None if colours is None else False)
    canvas = Image.fromarray(fit_for_display(image, max_side)).convert("RGB")
    draw = ImageDraw.Draw(canvas)
    font, pad = _font(plan.font_px), max(2, plan.font_px // 5)
    slots = range(len(faces)) if colours is None else colours
    for box, slot in zip(plan.boxes, slots):
        draw.rectangle(box, outline=PALETTE[slot % len(PALETTE)], width=plan.line)
    for label, slot in zip(plan.labels, slots):
        if label:
            colour = PALETTE[slot % len(PALETTE)]
            text, (lx, ly, rx, ry) = label
            left, top, _, _ = font.getbbox(text)
            draw.rectangle((lx, ly, rx, ry), fill=colour)
            draw.text((lx + pad - left, ly + pad - top), text, font=font, fill=_ink(colour))
    return np.asarray(canvas)


def draw_hint(image: np.ndarray, text: str) -> np.ndarray:
    """A copy of ``image`` with ``text`` on a dark band at its bottom (the live view's "no face" hint)."""
    canvas = Image.fromarray(image).convert("RGB")
    draw = ImageDraw.Draw(canvas)
    font = _font(max(12, round(max(canvas.size) / 32)))
    left, top, right, bottom = font.getbbox(text)
    pad = max(4, (bottom - top) // 3)
    y = canvas.height - (bottom - top) - 2 * pad
    draw.rectangle((0, y, canvas.width, canvas.height), fill=(0, 0, 0))
    draw.text(((canvas.width - (right - left)) // 2 - left, y + pad - top), text, font=font, fill=(255, 255, 255))
    return np.asarray(canvas)


def _display_size(width: int, height: int, max_side: int, min_side: int = MIN_DISPLAY_SIDE) -> tuple[int, int]:
    """The size :func:`fit_for_display` gives a ``width`` x ``height`` photo."""
    longer = max(height, width)
    scale = min(max_side / longer, max(1.0, min_side / longer))
    if scale == 1:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def _scaled(box: Sequence[float], scale: float) -> Rect:
    x1, y1, x2, y2 = (round(v * scale) for v in box)
    return x1, y1, max(x2, x1 + 1), max(y2, y1 + 1)


def _spots(box: Rect, size: tuple[int, int], width: int, height: int, inset: int) -> list[Rect]:
    """Where a label of ``size`` may go, in order of preference: above the box, below it, inside
    at its top, inside at its bottom (``inset`` from its edges); each at the box's left edge, then
    its right; in the picture."""
    x1, y1, x2, y2 = box
    w, h = size
    outside = [(x, y) for y in (y1 - h, y2) for x in (x1, x2 - w)]
    inside = [(x, y) for y in (y1 + inset, y2 - h - inset) for x in (x1 + inset, x2 - w - inset)]
    spots = []
    for x, y in outside + inside:
        x = min(max(0, x), max(0, width - w))
        if 0 <= y <= height - h:
            spots.append((x, y, x + w, y + h))
    return spots


def _overlap(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


#: Each thread's fonts by size: finding and opening the font file took 0.25 ms a label (twice a
#: live frame); a FreeType font is not shared between threads.
_FONTS = threading.local()


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    fonts = _FONTS.__dict__.setdefault("by_size", {})
    if size not in fonts:
        fonts[size] = _open_font(size)
    return fonts[size]


def _open_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for name in ("DejaVuSans-Bold.ttf", "Arial Bold.ttf", "arialbd.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size)  # Pillow's own font: no system font needed


def _ink(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black or white text, whichever reads better on ``colour``."""
    r, g, b = colour
    return (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 140 else (255, 255, 255)
