"""faceage: age and gender estimation from face photos.

The package is laid out by the path data takes:

* ``inference/``: photo -> faces -> crops -> model -> one result per face (:class:`Predictor`);
* ``data/``: datasets -> labels and a de-duplicated split -> the same crops -> corruptions;
* ``training/``: crops -> augmentation -> model -> fit -> calibration -> export;
* ``evaluation/``: metrics, evaluation on a test split, robustness, plots, the report;
* ``app/``: the Gradio page, drawing, the live view, many photos;
* ``feedback`` (the consented feedback store, for the app and the CLI), ``config`` (paths,
  thresholds, names), ``errors`` and ``cli`` (the ``faceage`` command) on top.

Imports go one way: inference <- data <- training, evaluation; the app and the CLI on top.
"""

from .errors import DatasetError, FaceAgeError, ImageError, ModelFileError, StoreError

__version__ = "0.1.0"
__all__ = ["Predictor", "FaceResult", "FaceAgeError", "ImageError", "ModelFileError", "DatasetError", "StoreError"]


def __getattr__(name: str):
    # Imported on first use, so `import faceage_lib` stays light.
    if name in ("Predictor", "FaceResult"):
        from .inference import predictor

        return getattr(predictor, name)
    raise AttributeError(f"module 'faceage_lib' has no attribute {name!r}")
