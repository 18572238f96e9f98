"""The page's words: title, intro (with the model's measured figures), and each tab's text."""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..config import INTERVAL_COVERAGE
from . import crowd
from .uploads import CACHE_CHECK_S, CACHE_MAX_AGE_S

#: Age groups measured on fewer test images than this are left out of the intro's figures.
MIN_GROUP_IMAGES = 30

TITLE = "Age and gender from a face photo"
INTRO = (
    f"# {TITLE}\n"
    "Upload a photo, take one with the webcam or paste one from the clipboard: each face found "
    "gets a box with the estimated gender (F/M), age and likely age range "
    f"(it holds the true age about {INTERVAL_COVERAGE:.0%} of the time). The other tabs follow "
    "faces in a live webcam stream, or analyse many photos at once.\n\n"
    "**Limits:** the model was trained on UTKFace and APPA-REAL, datasets for non-commercial research "
    "only, so this app is for non-commercial use. Its estimates are rough, and worse for small, blurred "
    "or turned faces; on real ages it reads teenagers years too old, so it cannot tell minors from "
    'adults.{figures} Gender is female or male, or "uncertain" (F? or M?) when the model '
    "is not sure. Photos are not kept: uploads are cleared from the server's cache within "
    f"{(CACHE_CHECK_S + CACHE_MAX_AGE_S) // 60} minutes."
)
FIGURES = (
    " On UTKFace's test photos the age is off by {best_mae:.1f} years on average for ages {best} and by "
    "{worst_mae:.1f} for ages {worst}; the gender is right {low_acc:.0%} of the time for ages {low} and "
    "{high_acc:.0%} for ages {high}."
)
FEEDBACK_INTRO = (
    "Know the real age of a face in this photo? Sending it helps improve the model. Only the "
    "small crop of that face is stored (not the photo), with the estimate, the age you give, the "
    "gender if you give it, and the date. Tick the box to agree to that, for each entry."
)
FEEDBACK_OFF = "**Feedback is switched off on this server:** its database could not be opened: {reason}."
LIVE_INTRO = (
    "Allow the camera, then press the record button: each face is followed from frame to frame "
    "and its estimate settles over a few frames. Nothing is stored."
)
CROWD_INTRO = (
    f"Choose several photos, or a .zip archive of photos (up to {crowd.MAX_FILES} files, "
    f"{crowd.MAX_TOTAL_BYTES // 2**20} MB in all): one row per face, a CSV to download, and "
    "the ages by gender."
)
VIDEO_INTRO = (
    "Upload a video (mp4, webm or mov, up to {seconds} s, 1920x1080 and the page's {mb} MB upload "
    "limit): every person is followed from frame to frame, and you get the clip back with boxes, "
    "one row per person (median age, likely range, gender, seconds seen) and a CSV. Nothing is kept."
)
EMPTY_MESSAGE = "Add a photo to start: upload one, take one with the webcam, paste one, or click an example photo."


def intro(model_sha256: str, measured_file: Path | None) -> str:
    """The page's intro, with the measured figures when ``measured_file`` (the model folder's
    ``measured.json``, written by benchmarks/accuracy.py) has them for this model (its ``model.tflite`` SHA-256)."""
    groups = measured_groups(measured_file, model_sha256) if measured_file else {}
    if not groups:
        return INTRO.format(figures="")
    by_mae = sorted(groups, key=lambda g: groups[g]["age_mae"])
    by_acc = sorted(groups, key=lambda g: groups[g]["gender_accuracy"])
    return INTRO.format(
        figures=FIGURES.format(
            best=by_mae[0],
            best_mae=groups[by_mae[0]]["age_mae"],
            worst=by_mae[-1],
            worst_mae=groups[by_mae[-1]]["age_mae"],
            low=by_acc[0],
            low_acc=groups[by_acc[0]]["gender_accuracy"],
            high=by_acc[-1],
            high_acc=groups[by_acc[-1]]["gender_accuracy"],
        )
    )


def measured_groups(measured_file: Path, model_sha256: str) -> dict[str, dict[str, float]]:
    """Age group -> {age_mae, gender_accuracy} from the measured figures, groups of at least
    :data:`MIN_GROUP_IMAGES` images only; ``{}`` if the file is missing, not as expected, or
    measured another model."""
    try:
        measured = json.loads(measured_file.read_text())
        if measured["model_sha256"] != model_sha256:
            return {}
        groups = measured["by_age_group"]
        figures = {
            name: {key: float(group[key]) for key in ("age_mae", "gender_accuracy")}
            for name, group in groups.items()
            if int(group["n"]) >= MIN_GROUP_IMAGES
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}
    if not all(math.isfinite(v) for group in figures.values() for v in group.values()):
        return {}
    return figures
