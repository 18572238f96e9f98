"""Face detectors by name: one module per detector, each a :class:`FaceDetector`.

>>> detector = get_detector("blazeface")   # the default, shipped with faceage
"""

from __future__ import annotations

from importlib import import_module

from .base import LANDMARKS, Face, FaceDetector

#: Registered detectors: name -> "module:class", imported on first use.
DETECTORS = {"blazeface": "faceage_lib.inference.detectors.blazeface:BlazeFaceDetector"}
DEFAULT_DETECTOR = "blazeface"

__all__ = ["DETECTORS", "DEFAULT_DETECTOR", "Face", "FaceDetector", "LANDMARKS", "get_detector"]


def get_detector(detector: str | FaceDetector = DEFAULT_DETECTOR, num_threads: int | None = None) -> FaceDetector:
    """A detector instance: ``detector`` itself, or a new one of the registered name."""
    if isinstance(detector, FaceDetector):
        return detector
    if detector not in DETECTORS:
        raise ValueError(f"unknown detector {detector!r}; choose one of {', '.join(DETECTORS)}")
    module, cls = DETECTORS[detector].split(":")
    return getattr(import_module(module), cls)(num_threads=num_threads)
