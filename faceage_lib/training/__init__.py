"""The training half: crops (from :mod:`faceage_lib.data`) -> augmentation -> the Keras model ->
fit -> calibration -> export ``.keras``/``.tflite``/manifest.

Modules in that order: ``augment``, ``model``, ``config`` (the run's settings), ``runs`` (a run's
folder: its settings, rows and val crops), ``fit``, ``calibration``, ``export``; ``ensemble`` averages
runs; ``backend`` imports Keras quietly. Never imports the evaluation half, and no module imports one
that imports it back (tests/test_layers.py).
"""
