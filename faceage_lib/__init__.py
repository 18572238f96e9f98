"""faceage: age and gender estimation from face photos.

The data path, one module each: ``images`` (open a photo) -> ``detector`` (find faces) ->
``crop`` (the one face crop) -> ``estimator`` (the model on LiteRT) -> ``predictor`` (all of it).
Training: ``data`` -> ``prepare`` -> ``pipeline`` -> ``model`` -> ``train`` -> ``export``.
"""

from .errors import DatasetError, FaceAgeError, ImageError, ModelFileError

__version__ = "0.1.0"
__all__ = ["Predictor", "FaceResult", "FaceAgeError", "ImageError", "ModelFileError", "DatasetError"]


def __getattr__(name: str):
    # Imported on first use, so `import faceage_lib` stays light.
    if name in ("Predictor", "FaceResult"):
        from . import predictor

        return getattr(predictor, name)
    raise AttributeError(f"module 'faceage_lib' has no attribute {name!r}")
