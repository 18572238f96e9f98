"""Export a trained Keras model: ``model.keras``, ``model.tflite`` and ``manifest.json``."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from ..inference.modelfiles import MANIFEST, SCHEMA_VERSION, model_io, sha256

MODEL_FILES = ("model.tflite", "model.keras")


def export_model(model, out_dir: str | Path, interval_mass: float, gender_min_confidence: float = 0.5,
                 training: dict | None = None, calibration: dict | None = None) -> Path:
    """Write the Keras model (without optimizer state), its LiteRT conversion and the manifest."""
    from .backend import keras
    from .model import inference_model

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    bare = keras.Model.from_config(model.get_config())  # uncompiled: no optimizer state saved
    bare.set_weights(model.get_weights())
    bare.save(out / "model.keras")
    (out / "model.tflite").write_bytes(to_tflite(inference_model(bare)))
    settings = {
        **model_io(int(model.inputs[0].shape[1])),
        "interval_mass": interval_mass,
        "gender_min_confidence": gender_min_confidence,
        "calibration": calibration or {},
        "parameters": int(model.count_params()),
        "training": training or {},
    }
    return write_manifest(out, settings)


def write_manifest(model_dir: Path, settings: dict, files: tuple[str, ...] = MODEL_FILES) -> Path:
    """Record ``files`` (names inside ``model_dir``) with their checksums, plus ``settings``."""
    entries = {name: {"sha256": sha256(model_dir / name), "bytes": (model_dir / name).stat().st_size}
               for name in files}
    path = model_dir / MANIFEST
    manifest = {"schema_version": SCHEMA_VERSION, "files": entries, **settings}
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return path


def to_tflite(model) -> bytes:
    """Convert through a SavedModel (the converter's recommended path for Keras 3 models)."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as saved:
        model.export(saved, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved)
        return converter.convert()
