"""The training half: crops (from :mod:`faceage_lib.data`) -> augmentation -> the Keras model ->
fit -> calibration -> export ``.keras``/``.tflite``/manifest.

Modules in that order: ``augment``, ``model``, ``config`` (the run's settings), ``fit``,
``calibration``, ``export``; ``backend`` imports Keras quietly. Never imports the evaluation half.
"""
