"""Several trained runs as one model: their age distributions and P(female) averaged with weights,
in one Keras model that is calibrated, exported and run like any other (one ``.tflite``, one
manifest). Members must take the same crop; each keeps its own backbone.

Two different networks err differently, so their average errs less than either (measured for the
shipped model on UTKFace and APPA-REAL, val and test: see the model card).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from ..errors import DatasetError
from .backend import keras
from .model import ExpectedAge, WeightedMean, load_keras_model
from .runs import run_config, run_record, write_config


def ensemble_model(members: Sequence[keras.Model], weights: Sequence[float] | None = None) -> keras.Model:
    """One model whose age distribution and P(female) are the ``weights``-average of ``members``'."""
    if len(members) < 2:
        raise ValueError("an ensemble needs at least two models")
    weights = list(weights) if weights is not None else [1.0] * len(members)
    if len(weights) != len(members) or min(weights) <= 0:
        raise ValueError(f"give one positive weight per model ({len(members)}), not {weights}")
    shapes = {tuple(member.inputs[0].shape[1:]) for member in members}
    if len(shapes) > 1:
        raise ValueError(f"the models take inputs of different shapes: {sorted(shapes)}")
    inputs = keras.Input(shape=members[0].inputs[0].shape[1:], name="crop")
    outputs = [
        keras.Model(member.inputs, member.output, name=f"member{index}")(inputs) for index, member in enumerate(members)
    ]
    age_probs = WeightedMean(weights, name="age_probs")([out["age_probs"] for out in outputs])
    gender = WeightedMean(weights, name="gender")([out["gender"] for out in outputs])
    age = ExpectedAge(name="age")(age_probs)
    return keras.Model(inputs, {"age_probs": age_probs, "age": age, "gender": gender}, name="faceage_ensemble")


def export_ensemble(
    runs: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    weights: Sequence[float] | None = None,
    data_dirs=None,
    work_dir: str | os.PathLike | None = None,
    tflite_weights: str = "float32",
) -> Path:
    """Average the ``best.keras`` of ``runs`` (training runs on the same datasets and crop), then
    calibrate and export it to ``out_dir`` as :func:`~.export.export_run` does a single run."""
    from .export import export_run

    folders = [Path(run) for run in runs]
    for folder in folders:
        if not (folder / "best.keras").is_file():
            raise DatasetError(f"{folder} holds no best.keras: it is not a finished training run's folder")
    configs = [run_config(folder) for folder in folders]
    crops = {config.crop() for config in configs}
    if len(crops) > 1:
        raise ValueError(f"the runs take different crops ({', '.join(sorted(c.key() for c in crops))})")
    weights = list(weights) if weights is not None else [1.0] * len(folders)
    model = ensemble_model([load_keras_model(folder / "best.keras") for folder in folders], weights)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "best.keras")
    write_config(out, configs[0])  # the val split and crop (each member's training record says who trained it)
    members = [
        {"run": str(folder), "weight": weight, **_training_record(folder)} for folder, weight in zip(folders, weights)
    ]
    (out / "manifest.json").write_text(json.dumps({"training": {"ensemble": members}}, indent=2) + "\n")
    return export_run(out, data_dirs, work_dir, tflite_weights)


def _training_record(folder: Path) -> dict:
    """What a member's manifest says of its training (its config.json where it was never exported)."""
    manifest = folder / "manifest.json"
    config = run_record(folder)
    return json.loads(manifest.read_text()).get("training", config) if manifest.is_file() else config
