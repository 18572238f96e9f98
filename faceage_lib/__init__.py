"""faceage: age and gender estimation from face photos.

The package is laid out by the path data takes:

* ``inference/``: photo -> faces -> crops -> model -> one result per face (:class:`Predictor`);
* ``training/``: UTKFace -> split -> crops -> augmentation -> model -> fit -> export;
* ``evaluation/``: metrics, evaluation on the test split, plots, the report;
* ``app/``: the Gradio page, drawing, the feedback store;
* ``config`` (paths, thresholds, names), ``errors`` and ``cli`` (the ``faceage`` command) on top.
"""

from .errors import DatasetError, FaceAgeError, ImageError, ModelFileError, StoreError

__version__ = "0.1.0"
__all__ = ["Predictor", "FaceResult", "FaceAgeError", "ImageError", "ModelFileError", "DatasetError",
           "StoreError"]


def __getattr__(name: str):
    # Imported on first use, so `import faceage_lib` stays light.
    if name in ("Predictor", "FaceResult"):
        from .inference import predictor

        return getattr(predictor, name)
    raise AttributeError(f"module 'faceage_lib' has no attribute {name!r}")
