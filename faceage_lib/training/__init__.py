"""The training half: UTKFace files -> labels and a de-duplicated split -> crops (the inference
detector and crop) -> augmentation -> the Keras model -> fit -> export ``.keras``/``.tflite``/manifest.

Modules in that order: ``download`` and ``utkface`` (the data), ``crops``, ``feed``, ``model``,
``config`` (the run's settings), ``fit``, ``calibration``, ``export``.
"""
