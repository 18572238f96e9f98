"""faceage: age and gender estimation from face photos.

The package is laid out by the path data takes:

* ``inference/``: photo -> faces -> crops -> model -> one result per face (:class:`Predictor`);
* ``data/``: datasets -> labels and a de-duplicated split -> the same crops -> corruptions;
* ``training/``: crops -> augmentation -> model -> fit -> calibration -> export;
* ``evaluation/``: metrics, evaluation on a test split, robustness, plots, the report;
* ``render/``: boxes and labels drawn on a photo, faces followed between frames;
* ``app/``: the Gradio page, the live view, many photos; ``video`` (video files), ``batch/`` (folders
  and corpora);
* ``feedback`` (the consented feedback store, for the app and the CLI), ``config`` (paths,
  thresholds, names), ``errors`` and ``cli`` (the ``faceage`` command) on top.

Imports go one way: inference <- data <- training, evaluation; inference <- render <- app, video;
the app, the batch jobs and the CLI on top (tests/test_layers.py walks the graph).
"""

from .errors import DatasetError, FaceAgeError, ImageError, ModelFileError, StoreError

__version__ = "0.4.0"  # the one place the version is written (pyproject.toml reads it)
__all__ = ["Predictor", "FaceResult", "FaceAgeError", "ImageError", "ModelFileError", "DatasetError", "StoreError"]


def __getattr__(name: str):
    # Imported on first use, so `import faceage_lib` stays light.
    if name in ("Predictor", "FaceResult"):
        from .inference import predictor

        return getattr(predictor, name)
    raise AttributeError(f"module 'faceage_lib' has no attribute {name!r}")
