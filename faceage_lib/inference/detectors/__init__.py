"""Face detectors by name: one module per detector, each a :class:`FaceDetector`.

>>> detector = get_detector("blazeface")   # the default, shipped with faceage
"""

from __future__ import annotations

from importlib import import_module

from .base import LANDMARKS, Face, FaceDetector

#: Registered detectors: name -> "module:class", imported on first use.
DETECTORS = {"blazeface": "faceage_lib.inference.detectors.blazeface:BlazeFaceDetector"}
DEFAULT_DETECTOR = "blazeface"

__all__ = ["DETECTORS", "DEFAULT_DETECTOR", "Face", "FaceDetector", "LANDMARKS", "detector_class", "get_detector"]


def detector_class(name: str = DEFAULT_DETECTOR) -> type[FaceDetector]:
    """The registered detector class of ``name`` (imported, not instantiated: no model is loaded)."""
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}; choose one of {', '.join(DETECTORS)}")
    module, cls = DETECTORS[name].split(":")
    return getattr(import_module(module), cls)


def get_detector(detector: str | FaceDetector = DEFAULT_DETECTOR, num_threads: int | None = None) -> FaceDetector:
    """A detector instance: ``detector`` itself, or a new one of the registered name."""
    if isinstance(detector, FaceDetector):
        return detector
    return detector_class(detector)(num_threads=num_threads)
