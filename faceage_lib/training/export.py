"""Export a trained Keras model: ``model.keras``, ``model.tflite`` and ``manifest.json``.

The ``.tflite`` is converted from the saved ``model.keras`` with the TensorFlow backend (in a
subprocess when training ran on JAX or PyTorch), and checked to give the Keras model's outputs.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .. import __version__
from ..config import TFLITE_WEIGHTS
from ..errors import DatasetError, ModelFileError
from ..inference.crop import CropSpec
from ..inference.modelfiles import MANIFEST, MEASURED, SCHEMA_VERSION, model_io, sha256
from ..inference.runtime import TFLiteModel
from .runs import run_made_by, run_val_crops

MODEL_FILES = ("model.tflite", "model.keras")
#: The largest difference allowed between the Keras model's and the .tflite's outputs (probabilities),
#: per kind of weights. Measured on the 0.3 ensemble: float16 6e-4 (under 0.01 years of age),
#: dynamic-int8 0.013 on val crops (0.035 years per face on average, val MAE within 0.003 years).
SAME_OUTPUTS_ATOL = {"float32": 1e-4, "float16": 2e-3, "dynamic-int8": 0.03}


def export_run(
    run_dir: str | os.PathLike, data_dirs=None, work_dir: str | os.PathLike | None = None, weights: str = "float32"
) -> Path:
    """Calibrate and export a run's ``best.keras`` again (``faceage export``; ``data_dirs`` as the run
    was given them): e.g. on a machine with TensorFlow after training elsewhere, or after a change to
    the calibration. ``weights``: how the ``.tflite`` stores its weights
    (:data:`~faceage_lib.config.TFLITE_WEIGHTS`)."""
    run = Path(run_dir)
    if not (run / "best.keras").is_file():
        raise DatasetError(
            f"{run} holds no best.keras: it is not a training run's folder (or the run never finished an epoch)"
        )
    config, val_rows, _ = run_val_crops(run, data_dirs, work_dir)
    previous = run / "manifest.json"
    training = (
        json.loads(previous.read_text()).get("training", {})
        if previous.is_file()
        else {**asdict(config), **run_made_by(run)}
    )
    return export_best(run, val_rows, training, config.crop(), weights)


def export_best(out_dir: str | os.PathLike, val_rows, training: dict, crop: CropSpec, weights: str = "float32") -> Path:
    """Calibrate the run's best checkpoint (``best.keras``) on the val rows and export it.

    The last step of :func:`~.fit.train`, callable again on a finished run (e.g. after a change to
    the calibration) without training anew.
    """
    from .calibration import calibrate
    from .model import load_keras_model

    out = Path(out_dir)
    core = load_keras_model(out / "best.keras")
    export_model(core, out, training=training, crop=crop, weights=weights, **calibrate(core, val_rows, crop))
    return out


def export_model(
    model,
    out_dir: str | Path,
    interval_mass: float,
    gender_min_confidence: float = 0.5,
    training: dict | None = None,
    calibration: dict | None = None,
    crop: CropSpec | None = None,
    weights: str = "float32",
    p_under_18: dict | None = None,
) -> Path:
    """Write the Keras model (without optimizer state), its LiteRT conversion (``weights``: see
    :data:`~faceage_lib.config.TFLITE_WEIGHTS`) and the manifest, which records the ``crop`` the model takes (default:
    the standard crop at the model's input size)."""
    from .backend import keras
    from .model import inference_model

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / MEASURED).unlink(missing_ok=True)  # the previous model's figures
    bare = keras.Model.from_config(model.get_config())  # uncompiled: no optimizer state saved
    bare.set_weights(model.get_weights())
    bare.save(out / "model.keras")
    (out / "model.tflite").write_bytes(tflite_from_keras_file(out / "model.keras", weights))
    check_same_outputs(inference_model(bare), out / "model.tflite", atol=SAME_OUTPUTS_ATOL[weights])
    settings = {
        **model_io(crop or int(model.inputs[0].shape[1])),
        "interval_mass": interval_mass,
        "gender_min_confidence": gender_min_confidence,
        **({"p_under_18": p_under_18} if p_under_18 else {}),
        "calibration": calibration or {},
        "parameters": int(model.count_params()),
        "tflite_weights": weights,
        "training": training or {},
        **made_by(),
    }
    return write_manifest(out, settings)


def made_by() -> dict:
    """The faceage that runs now, as a manifest (or a run's ``config.json``) records it:
    ``faceage_version`` and ``git_commit`` (:func:`source_commit`)."""
    return {"faceage_version": __version__, "git_commit": source_commit()}


def source_commit(folder: str | os.PathLike | None = None) -> str | None:
    """The git commit of the faceage source that exports (``folder``: default, the package's checkout),
    with ``-dirty`` when its files differ from that commit; ``None`` outside a git checkout or
    without git, and where ``folder`` is only somewhere inside another checkout (an installed
    faceage in a virtual environment kept in some project's folder is not that project's code)."""
    folder = Path(folder) if folder else Path(__file__).resolve().parents[2]
    try:
        top = subprocess.run(["git", "-C", str(folder), "rev-parse", "--show-toplevel"], capture_output=True, text=True)
        if top.returncode != 0 or not os.path.samefile(top.stdout.strip(), folder):
            return None
        commit = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True)
        status = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
        )
    except OSError:  # no git
        return None
    if commit.returncode != 0 or status.returncode != 0:
        return None
    return commit.stdout.strip() + ("-dirty" if status.stdout.strip() else "")


def write_manifest(model_dir: Path, settings: dict, files: tuple[str, ...] = MODEL_FILES) -> Path:
    """Record ``files`` (names inside ``model_dir``) with their checksums, plus ``settings``."""
    entries = {name: _file_entry(model_dir / name) for name in files}
    return _write(model_dir, {"schema_version": SCHEMA_VERSION, "files": entries, **settings})


def record_measured(model_dir: str | os.PathLike, figures: dict) -> Path:
    """Write ``figures`` (measured on the test split) to the model folder's ``measured.json`` and list it,
    with its checksum, in the manifest: the figures travel with the model wherever it is installed."""
    folder = Path(model_dir)
    (folder / MEASURED).write_text(json.dumps(figures, indent=2) + "\n")
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["files"][MEASURED] = _file_entry(folder / MEASURED)
    return _write(folder, manifest)


def _file_entry(path: Path) -> dict:
    return {"sha256": sha256(path), "bytes": path.stat().st_size}


def _write(model_dir: Path, manifest: dict) -> Path:
    path = model_dir / MANIFEST
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return path


def tflite_from_keras_file(path: Path, weights: str = "float32") -> bytes:
    """The LiteRT conversion of a saved ``model.keras``, made with the TensorFlow backend."""
    from .backend import keras

    if keras.backend.backend() == "tensorflow":
        return _convert(path, weights)
    if importlib.util.find_spec("tensorflow") is None:
        raise ModelFileError(
            f"{path} is saved, but writing model.tflite needs TensorFlow, which is not installed "
            f"here: run `faceage export --run {path.parent}` where it is (pip install tensorflow)"
        )
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    code = (
        "import sys; from faceage_lib.training.export import _convert; "
        "sys.stdout.buffer.write(_convert(sys.argv[1], sys.argv[2]))"
    )
    result = subprocess.run([sys.executable, "-c", code, str(path), weights], env=env, capture_output=True)
    if result.returncode != 0:
        raise ModelFileError(f"converting {path} to .tflite failed: {result.stderr.decode(errors='replace')[-2000:]}")
    return result.stdout


def _convert(path: str | Path, weights: str = "float32") -> bytes:
    from .model import inference_model, load_keras_model

    return to_tflite(inference_model(load_keras_model(path)), weights)


def check_same_outputs(model, tflite_path: Path, count: int = 8, atol: float = SAME_OUTPUTS_ATOL["float32"]) -> float:
    """The largest output difference between ``model`` (Keras) and the ``.tflite`` on random crops;
    raises :class:`ModelFileError` above ``atol``."""
    size = int(model.inputs[0].shape[1])
    crops = np.random.default_rng(0).uniform(0, 255, (count, size, size, 3)).astype(np.float32)
    expected = np.asarray(model.predict(crops, verbose=0))
    got = next(iter(TFLiteModel(tflite_path).run(crops).values()))
    difference = float(np.max(np.abs(got - expected)))
    if difference > atol:
        raise ModelFileError(
            f"{tflite_path} differs from the Keras model by {difference:.2g} (allowed {atol:g}): "
            "the conversion is wrong"
        )
    return difference


def to_tflite(model, weights: str = "float32") -> bytes:
    """Convert through a SavedModel (the converter's recommended path for Keras 3 models), the weights
    stored as ``weights`` says (:data:`~faceage_lib.config.TFLITE_WEIGHTS`; dynamic-int8 is the
    converter's dynamic-range quantization: no calibration data)."""
    import tensorflow as tf

    if weights not in TFLITE_WEIGHTS:
        raise ValueError(f"weights must be one of {', '.join(TFLITE_WEIGHTS)}, not {weights!r}")
    with tempfile.TemporaryDirectory() as saved:
        model.export(saved, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved)
        if weights != "float32":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if weights == "float16":
            converter.target_spec.supported_types = [tf.float16]
        return converter.convert()
