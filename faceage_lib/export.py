"""Export a trained Keras model: ``model.keras``, ``model.tflite`` and ``manifest.json``."""

from __future__ import annotations

import tempfile
from pathlib import Path

from . import modelfiles


def export_model(model, out_dir: str | Path, interval_mass: float, training: dict | None = None) -> Path:
    """Write the Keras model (without optimizer state), its LiteRT conversion and the manifest."""
    import keras

    from .model import inference_model

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    bare = keras.Model.from_config(model.get_config())  # uncompiled: no optimizer state saved
    bare.set_weights(model.get_weights())
    bare.save(out / "model.keras")
    (out / "model.tflite").write_bytes(to_tflite(inference_model(bare)))
    img_size = int(model.inputs[0].shape[1])
    settings = {
        "format": 1,
        "img_size": img_size,
        "input": f"RGB face crop from faceage_lib.crop.crop_face, {img_size}x{img_size}, float32 in [0, 255]",
        "output": "age_probs over ages 0..116, then P(female)",
        "interval_mass": interval_mass,
        "parameters": int(model.count_params()),
        "training": training or {},
    }
    return modelfiles.write_manifest(out, ["model.tflite", "model.keras"], settings)


def to_tflite(model) -> bytes:
    """Convert through a SavedModel (the converter's recommended path for Keras 3 models)."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as saved:
        model.export(saved, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved)
        return converter.convert()
