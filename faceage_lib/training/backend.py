"""Keras for the training half, imported once and quietly.

On a machine without a GPU, TensorFlow (Keras's default backend) prints start-up lines to the
process's stderr, red "failed call to cuInit" errors among them, that tell a user nothing they can
act on. Unless the user chose a log level, TensorFlow's C++ logging is limited to fatal errors, and
the import runs with the native stderr silenced. Python errors still show as usual.
"""

import os

from ..inference.runtime import native_stderr_silenced

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
with native_stderr_silenced():
    import keras

__all__ = ["keras"]
