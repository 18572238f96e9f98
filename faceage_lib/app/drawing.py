"""Draw each face's box and label on a photo, sized to read well at any resolution.

Plain Pillow: the app, the notebooks and scripts use it without importing Gradio.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..inference.predictor import FaceResult

#: The annotated photo's longer side is scaled into this range (pixels) for display.
MAX_DISPLAY_SIDE = 1600
MIN_DISPLAY_SIDE = 480
#: Box colours, one per face (cycled), chosen to stand out on skin, sky and grey.
PALETTE = ((0, 200, 255), (255, 140, 0), (60, 220, 60), (255, 60, 160), (150, 110, 255),
           (255, 230, 0), (0, 230, 180), (255, 80, 80))


def fit_for_display(image: np.ndarray, max_side: int = MAX_DISPLAY_SIDE,
                    min_side: int = MIN_DISPLAY_SIDE) -> np.ndarray:
    """The photo scaled so that its longer side is at most ``max_side`` pixels and, for tiny
    photos, at least ``min_side`` (so that boxes and labels stay sharp when the page enlarges it)."""
    height, width = image.shape[:2]
    longer = max(height, width)
    scale = min(max_side / longer, max(1.0, min_side / longer))
    if scale == 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))


def draw_faces(image: np.ndarray, faces: Sequence[FaceResult], max_side: int = MAX_DISPLAY_SIDE,
               colours: Sequence[int] | None = None) -> np.ndarray:
    """A copy of ``image`` (see :func:`fit_for_display`) with a box and a label per face.

    Faces are numbered 1, 2, ... in the order given (when there are several), each in the
    next palette colour. ``colours`` (e.g. the live view's track ids) picks each face's palette
    slot instead, and the labels are then not numbered. Line width and font scale with the
    picture, so labels read the same on a 300-pixel thumbnail and on a 24-megapixel photo;
    labels stay inside the picture.
    """
    height, width = image.shape[:2]
    shown = fit_for_display(image, max_side)
    scale = shown.shape[1] / width
    canvas = Image.fromarray(shown).convert("RGB")
    draw = ImageDraw.Draw(canvas)
    side = max(canvas.size)
    line = max(2, round(side / 300))
    font_px = max(12, round(side / 26))
    if len(faces) > 1:  # crowded photos: labels no taller than a third of the typical face
        typical = float(np.median([(f.box[2] - f.box[0]) * scale for f in faces]))
        font_px = max(12, min(font_px, round(typical / 3)))
    font = _font(font_px)
    pad = max(2, font_px // 5)
    numbered = colours is None and len(faces) > 1
    slots = range(len(faces)) if colours is None else colours
    for number, (face, slot) in enumerate(zip(faces, slots), 1):
        colour = PALETTE[slot % len(PALETTE)]
        x1, y1, x2, y2 = (round(v * scale) for v in face.box)
        x2, y2 = max(x2, x1 + 1), max(y2, y1 + 1)
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=line)
        text = f"{number}: {face.label}" if numbered else face.label
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        box_w, box_h = right - left + 2 * pad, bottom - top + 2 * pad
        lx = min(max(0, x1), max(0, canvas.width - box_w))
        ly = y1 - box_h if y1 - box_h >= 0 else (y2 if y2 + box_h <= canvas.height else y1)
        draw.rectangle((lx, ly, lx + box_w, ly + box_h), fill=colour)
        draw.text((lx + pad - left, ly + pad - top), text, font=font, fill=_ink(colour))
    return np.asarray(canvas)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
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
