"""faceage_lib.training.fit: a whole training run on the generated UTKFace-like folder."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from faceage_lib.errors import DatasetError
from faceage_lib.inference.estimator import AgeGenderEstimator


def _crops(n: int, size: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


# --------------------------------------------------------------------------- train


@pytest.fixture(scope="module")
def trained(utkface_dir, tmp_path_factory):
    from faceage_lib.training.config import TrainConfig
    from faceage_lib.training.fit import train

    out = tmp_path_factory.mktemp("trained")
    work = tmp_path_factory.mktemp("train_work")
    config = TrainConfig(epochs=2, limit=32, batch_size=16, img_size=32, width=4)
    result = train(utkface_dir["folder"], out, config, work_dir=work, verbose=0)
    return {"out": result, "work": work, "config": config}


def test_train_writes_every_file(trained):
    out = trained["out"]
    for name in ("model.keras", "model.tflite", "manifest.json", "training_log.csv", "best.keras", "config.json"):
        assert (out / name).is_file(), name
    assert (trained["work"] / "utkface_split.csv").is_file()
    assert (trained["work"] / "crops_32.npz").is_file()


def test_train_log_and_manifest(trained):
    out = trained["out"]
    with (out / "training_log.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["0", "1"]
    assert all(float(row["val_age_mae"]) > 0 and 0 <= float(row["val_gender_accuracy"]) <= 1 for row in rows)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["input"]["shape"][1] == 32
    assert set(manifest["files"]) == {"model.tflite", "model.keras"}
    assert 0.5 <= manifest["interval_mass"] <= 0.999
    assert 0.5 <= manifest["gender_min_confidence"] <= 1
    assert manifest["calibration"]["corruptions"] and manifest["calibration"]["val_images"] == 6
    assert manifest["training"]["best_epoch"] in (1, 2) and manifest["training"]["backend"] == "tensorflow"
    assert manifest["training"]["train_images"] == 32
    assert manifest["training"]["val_images"] == 6  # limit // 4 = 8, but the fixture's val split holds 6
    assert json.loads((out / "config.json").read_text())["epochs"] == 2
    assert not (out / "backup").exists()  # a finished run leaves no resume state


def test_trained_export_loads_and_agrees(trained):
    from faceage_lib.training.model import load_keras_model

    out = trained["out"]
    keras_model = load_keras_model(out / "model.keras")
    crops = _crops(4, seed=11)
    expected = keras_model.predict(crops.astype(np.float32), verbose=0)
    got = AgeGenderEstimator(out).predict(crops)
    np.testing.assert_allclose(got.age, expected["age"][:, 0], atol=1e-4)
    np.testing.assert_allclose(got.p_female, expected["gender"][:, 0], atol=1e-4)
    best = load_keras_model(out / "best.keras")  # the best weight average is the exported model
    np.testing.assert_allclose(best.predict(crops.astype(np.float32), verbose=0)["age"], expected["age"], atol=1e-5)


def test_an_interrupted_run_resumes_where_it_stopped(utkface_dir, tmp_path):
    import keras

    from faceage_lib.training.config import TrainConfig
    from faceage_lib.training import fit

    class StopAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt

    config = TrainConfig(epochs=2, limit=32, batch_size=16, img_size=32, width=4)
    real_fit = keras.Model.fit

    def interrupted_fit(self, *args, callbacks=(), **kwargs):
        return real_fit(self, *args, callbacks=[*callbacks, StopAfterFirstEpoch()], **kwargs)

    keras.Model.fit = interrupted_fit
    try:
        with pytest.raises(KeyboardInterrupt):
            fit.train(utkface_dir["folder"], tmp_path / "out", config, work_dir=tmp_path / "w", verbose=0)
    finally:
        keras.Model.fit = real_fit
    assert (tmp_path / "out" / "backup" / "average.npz").is_file()
    fit.train(utkface_dir["folder"], tmp_path / "out", config, work_dir=tmp_path / "w", verbose=0)
    with (tmp_path / "out" / "training_log.csv").open() as handle:
        assert [row["epoch"] for row in csv.DictReader(handle)] == ["0", "1"]  # epoch 0 was not run again


def test_train_refuses_a_dataset_without_val(tmp_path):
    from PIL import Image

    from faceage_lib.training.config import TrainConfig
    from faceage_lib.training.fit import train

    folder = tmp_path / "UTKFace"
    folder.mkdir()
    for k in range(3):
        Image.new("RGB", (40, 40), (k * 50, 0, 0)).save(folder / f"{20 + k}_0_0_2017011617452{k:04d}.jpg.chip.jpg")
    with pytest.raises(DatasetError, match="too few"):
        train(folder, tmp_path / "out", TrainConfig(epochs=1, img_size=32, width=4), work_dir=tmp_path / "w", verbose=0)


BACKEND_STEP = """
import numpy as np, keras
from faceage_lib.training.augment import Augment
from faceage_lib.training.model import build_model, compile_model
core = build_model(img_size=32, width=4)
inputs = keras.Input((32, 32, 3))
model = keras.Model(inputs, core(Augment(seed=0)(inputs)))
compile_model(model, 1e-3, 0.05)
ages = np.arange(8, dtype="float32") * 9 + 1
history = model.fit(np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3)).astype("uint8"),
                    {"age_probs": ages, "age": ages, "gender": (ages % 2).astype("float32")}, epochs=2, verbose=0)
print(keras.backend.backend(), history.history["loss"][-1])
"""


@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_a_training_step_on_each_installed_backend(backend):
    """The model, its losses and the augmentation use keras.ops only: any Keras 3 backend trains them."""
    import importlib.util
    import os
    import subprocess
    import sys

    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    env = {**os.environ, "KERAS_BACKEND": backend}
    result = subprocess.run([sys.executable, "-c", BACKEND_STEP], capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    name, loss = result.stdout.split()[-2:]
    assert name == backend and np.isfinite(float(loss))
