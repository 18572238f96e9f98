"""One home for faceage's settings: where its files live, its thresholds, the names of things.

Environment variables (all optional):

* ``FACEAGE_HOME``: one folder for everything faceage writes (caches and the feedback database);
  without it, caches go to ``$XDG_CACHE_HOME/faceage`` (``~/.cache/faceage``) and user data to
  ``$XDG_DATA_HOME/faceage`` (``~/.local/share/faceage``);
* ``FACEAGE_MODEL_DIR``: the model folder to load instead of the shipped one;
* ``FACEAGE_DB_URL``: the feedback database (any SQLAlchemy URL), see :mod:`faceage_lib.feedback`.
"""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path

import numpy as np

# --------------------------------------------------------------------------- labels

#: UTKFace's gender codes are the indices: 0 male, 1 female.
GENDERS = ("male", "female")
#: Video files `faceage predict` and the app read (with OpenCV: faceage_lib.video).
VIDEO_EXTENSIONS = (".mp4", ".webm", ".mov", ".m4v", ".avi", ".mkv")
#: The gender field of an exported feedback file whose person gave no gender (never the model's guess).
UNKNOWN_GENDER = "unknown"
RACES = ("White", "Black", "Asian", "Indian", "Others")
#: The oldest age the model can predict (UTKFace's oldest); its age distribution covers 0..MAX_AGE.
MAX_AGE = 116
#: Age groups for stratifying the split and for per-group figures.
AGE_GROUP_EDGES = (0, 3, 10, 20, 30, 40, 50, 60, 70, 80)
AGE_GROUP_LABELS = ("0-2", "3-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80+")


def age_group(ages) -> np.ndarray:
    """Map ages to the labels of :data:`AGE_GROUP_LABELS`."""
    index = np.searchsorted(AGE_GROUP_EDGES, np.asarray(ages, dtype=float), side="right") - 1
    return np.asarray(AGE_GROUP_LABELS)[np.clip(index, 0, len(AGE_GROUP_LABELS) - 1)]


# --------------------------------------------------------------------------- thresholds

#: A detection must score at least this to count as a face.
DETECTOR_MIN_SCORE = 0.5
#: P(female) at or above this reads as "female", below as "male".
GENDER_THRESHOLD = 0.5
#: The age range reported is meant to hold the true age this often (calibrated on val).
INTERVAL_COVERAGE = 0.8
#: The age of majority behind each face's ``p_under_18``: the probability that the person is younger.
AGE_OF_MAJORITY = 18

# --------------------------------------------------------------------------- paths

_CHECKOUT = Path(__file__).resolve().parent.parent


def _home(xdg_variable: str, fallback: str) -> Path:
    if os.environ.get("FACEAGE_HOME"):
        return Path(os.environ["FACEAGE_HOME"]).expanduser()
    return Path(os.environ.get(xdg_variable) or Path.home() / fallback).expanduser() / "faceage"


def cache_home() -> Path:
    """Where faceage keeps what it can rebuild: split manifests, crop caches, extracted archives."""
    return _home("XDG_CACHE_HOME", ".cache")


def data_home() -> Path:
    """Where faceage keeps user data: the feedback database."""
    return _home("XDG_DATA_HOME", ".local/share")


def shipped_folder(name: str, package: str, marker: str) -> Path:
    """A data folder that ships with faceage: the checkout's ``name/`` in a source checkout (or a
    Space), else the installed data package ``package`` (pyproject maps the folder to it).
    ``marker`` is a file the folder must hold."""
    checkout = _CHECKOUT / name
    if (checkout / marker).is_file():
        return checkout
    spec = find_spec(package)  # a namespace package: look at its folders directly
    for folder in (spec.submodule_search_locations or []) if spec else []:
        if (Path(folder) / marker).is_file():
            return Path(folder)
    return checkout


def shipped_model_dir() -> Path:
    """The model that ships with faceage (``models/``)."""
    return shipped_folder("models", "faceage_models", "manifest.json")


def model_dir() -> Path:
    """``$FACEAGE_MODEL_DIR`` if set, else the shipped model."""
    return Path(os.environ["FACEAGE_MODEL_DIR"]) if os.environ.get("FACEAGE_MODEL_DIR") else shipped_model_dir()


def assets_dir() -> Path:
    """The example photos (``assets/``)."""
    return shipped_folder("assets", "faceage_assets", "README.md")


#: How a ``.tflite`` may store its weights: float32; float16 (half the file, computed in float32);
#: dynamic-int8 (a quarter of the file: int8 weights, activations quantized on the fly per batch,
#: about 4 times faster on a CPU with XNNPACK; benchmarks/tflite_weights.py measures what each costs).
TFLITE_WEIGHTS = ("float32", "float16", "dynamic-int8")
#: How the gender member's .tflite stores its weights: dynamic-int8 takes 0.10 ms a face against
#: float16's 0.28 here, and the blend's val gender accuracy moves by one face of 2,333 (93.40% against
#: 93.44%; UTKFace's Asian val faces 91.60% against 91.32%): ``benchmarks/member_weights.py``.
MEMBER_TFLITE_WEIGHTS = "dynamic-int8"
