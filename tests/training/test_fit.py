"""faceage_lib.training.fit: a whole training run on the generated UTKFace-like folder."""

from __future__ import annotations

import csv
import dataclasses
import json

import numpy as np
import pytest

import faceage_lib
from faceage_lib.errors import DatasetError
from faceage_lib.inference.estimator import AgeGenderEstimator, median_age


def _crops(n: int, size: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


# --------------------------------------------------------------------------- train


@pytest.fixture(scope="module")
def trained(utkface_dir, tiny_model_dir, tmp_path_factory):
    from faceage_lib.training.config import TrainConfig
    from faceage_lib.training.fit import train

    out = tmp_path_factory.mktemp("trained")
    work = tmp_path_factory.mktemp("train_work")
    config = TrainConfig(epochs=2, limit=32, batch_size=16, img_size=32, width=4)
    result = train(utkface_dir["folder"], out, config, work_dir=work, verbose=0)
    return {
        "out": result,
        "work": work,
        "config": config,
        "data": utkface_dir["folder"],
        "other_tflite": tiny_model_dir / "model.tflite",
    }


@pytest.mark.slow
def test_train_writes_every_file(trained):
    out = trained["out"]
    for name in ("model.keras", "model.tflite", "manifest.json", "training_log.csv", "best.keras", "config.json"):
        assert (out / name).is_file(), name
    assert (trained["work"] / "utkface_split.csv").is_file()
    assert (trained["work"] / "crops_utkface_32.npz").is_file()


@pytest.mark.slow
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
    config = json.loads((out / "config.json").read_text())
    assert config["epochs"] == 2 and config["faceage_version"] == faceage_lib.__version__ and "git_commit" in config
    assert {key: manifest["training"][key] for key in ("faceage_version", "git_commit")} == {
        key: config[key] for key in ("faceage_version", "git_commit")
    }  # who trained it; the manifest's own keys say who exported it
    assert manifest["faceage_version"] == faceage_lib.__version__ and "git_commit" in manifest
    assert not (out / "backup").exists()  # a finished run leaves no resume state
    under_18 = manifest["p_under_18"]
    assert np.isfinite(under_18["slope"]) and under_18["val_images"] == 6 and under_18["reliability_val"]


@pytest.mark.slow
def test_a_finished_run_has_nothing_to_resume(trained, tmp_path):
    from faceage_lib.training.fit import resume

    with pytest.raises(DatasetError, match="finished"):
        resume(trained["data"], trained["out"], work_dir=trained["work"], verbose=0)
    with pytest.raises(DatasetError, match="not a training run"):
        resume(trained["data"], tmp_path, work_dir=trained["work"], verbose=0)


@pytest.mark.slow
def test_trained_export_loads_and_agrees(trained):
    from faceage_lib.training.model import load_keras_model

    out = trained["out"]
    keras_model = load_keras_model(out / "model.keras")
    crops = _crops(4, seed=11)
    expected = keras_model.predict(crops.astype(np.float32), verbose=0)
    got = AgeGenderEstimator(out).predict(crops)
    np.testing.assert_allclose(got.age, median_age(expected["age_probs"].astype(np.float64)), atol=1e-3)
    np.testing.assert_allclose(got.p_female, expected["gender"][:, 0], atol=1e-4)
    best = load_keras_model(out / "best.keras")  # the best weight average is the exported model
    np.testing.assert_allclose(best.predict(crops.astype(np.float32), verbose=0)["age"], expected["age"], atol=1e-5)


@pytest.mark.slow
def test_an_interrupted_run_resumes_where_it_stopped(utkface_dir, tmp_path):
    import keras

    from faceage_lib.training import fit
    from faceage_lib.training.config import TrainConfig

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
    other = dataclasses.replace(config, learning_rate=1e-2)
    with pytest.raises(DatasetError, match="--learning-rate.*--resume"):  # two recipes in one model: refused
        fit.train(utkface_dir["folder"], tmp_path / "out", other, work_dir=tmp_path / "w", verbose=0)
    fit.resume(utkface_dir["folder"], tmp_path / "out", work_dir=tmp_path / "w", verbose=0)
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
import sys, numpy as np, keras
from faceage_lib.training.augment import Augment
from faceage_lib.training.model import build_model, compile_model
core = build_model(img_size=32, width=4)
inputs = keras.Input((32, 32, 3))
model = keras.Model(inputs, core(Augment(seed=0)(inputs)))
compile_model(model, 1e-3)
ages = np.arange(8, dtype="float32") * 9 + 1
history = model.fit(np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3)).astype("uint8"),
                    {"age_probs": ages, "age": ages, "gender": (ages % 2).astype("float32")}, epochs=2, verbose=0)
if len(sys.argv) > 1:  # export too: the .tflite is made with the TensorFlow backend and checked
    from faceage_lib.training.export import export_model
    export_model(core, sys.argv[1], interval_mass=0.8)
print(keras.backend.backend(), history.history["loss"][-1])
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_a_training_step_on_each_installed_backend(backend, tmp_path):
    """The model, its losses and the augmentation use keras.ops only: any Keras 3 backend trains them,
    and the export converts to .tflite with the TensorFlow backend (in a subprocess if need be)."""
    import importlib.util
    import os
    import subprocess
    import sys

    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    env = {**os.environ, "KERAS_BACKEND": backend}
    export = [] if backend == "tensorflow" else [str(tmp_path / "model")]
    result = subprocess.run(
        [sys.executable, "-c", BACKEND_STEP, *export], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    name, loss = result.stdout.split()[-2:]
    assert name == backend and np.isfinite(float(loss))
    if export:
        assert AgeGenderEstimator(tmp_path / "model").img_size == 32


@pytest.mark.slow
def test_export_run_exports_a_finished_run_again(trained, tmp_path):
    import shutil

    from faceage_lib import cli

    out = shutil.copytree(trained["out"], tmp_path / "run")
    before = json.loads((out / "manifest.json").read_text())
    (out / "model.tflite").unlink()
    assert (
        cli.main(["export", "--run", str(out), "--data-dir", str(trained["data"]), "--work-dir", str(trained["work"])])
        == 0
    )
    after = json.loads((out / "manifest.json").read_text())
    assert after["training"] == before["training"] and after["interval_mass"] == before["interval_mass"]
    assert AgeGenderEstimator(out).img_size == 32


def test_export_run_refuses_a_folder_that_is_not_a_run(tmp_path):
    from faceage_lib.training.export import export_run

    with pytest.raises(DatasetError, match="holds no best.keras"):
        export_run(tmp_path)


@pytest.mark.slow
def test_a_conversion_that_changes_the_outputs_is_refused(trained, tmp_path):
    import shutil

    from faceage_lib.errors import ModelFileError
    from faceage_lib.training.export import check_same_outputs
    from faceage_lib.training.model import inference_model, load_keras_model

    model = inference_model(load_keras_model(trained["out"] / "model.keras"))
    assert check_same_outputs(model, trained["out"] / "model.tflite") <= 1e-4
    other = tmp_path / "other.tflite"
    shutil.copyfile(trained["other_tflite"], other)
    with pytest.raises(ModelFileError, match="differs from the Keras model"):
        check_same_outputs(model, other)


@pytest.mark.slow
def test_dynamic_int8_weights_answer_within_their_tolerance(trained, tmp_path):
    from faceage_lib.config import TFLITE_WEIGHTS
    from faceage_lib.training.export import SAME_OUTPUTS_ATOL, check_same_outputs, to_tflite
    from faceage_lib.training.model import inference_model, load_keras_model

    model = inference_model(load_keras_model(trained["out"] / "model.keras"))
    quantized = tmp_path / "int8.tflite"
    quantized.write_bytes(to_tflite(model, "dynamic-int8"))
    assert quantized.stat().st_size < 0.4 * (trained["out"] / "model.tflite").stat().st_size  # int8, not float32
    assert check_same_outputs(model, quantized, atol=SAME_OUTPUTS_ATOL["dynamic-int8"]) > 0  # not the same file
    assert set(SAME_OUTPUTS_ATOL) == set(TFLITE_WEIGHTS)
    with pytest.raises(ValueError, match="weights must be one of"):
        to_tflite(model, "int4")


@pytest.mark.slow
def test_several_runs_export_as_one_ensemble(trained, tmp_path):
    import shutil

    from faceage_lib import cli

    runs = [str(shutil.copytree(trained["out"], tmp_path / name)) for name in ("a", "b")]
    data = ["--data-dir", str(trained["data"]), "--work-dir", str(trained["work"])]
    out = tmp_path / "ensemble"
    command = ["export", "--run", *runs, "--out", str(out), "--weights", "3", "1", "--tflite-weights", "float16"]
    assert cli.main([*command, *data]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tflite_weights"] == "float16"
    single = (trained["out"] / "model.tflite").stat().st_size
    assert (out / "model.tflite").stat().st_size < 1.4 * single  # two models in half precision
    members = manifest["training"]["ensemble"]
    assert [(member["run"], member["weight"]) for member in members] == [(runs[0], 3.0), (runs[1], 1.0)]
    crops = _crops(4)
    alone = AgeGenderEstimator(trained["out"]).predict(crops)
    together = AgeGenderEstimator(out).predict(crops)  # two copies of one model: the same, to float16
    np.testing.assert_allclose(together.age, alone.age, atol=0.01)
    assert cli.main(["export", "--run", *runs, *data]) == 1  # several runs need --out
    assert cli.main(["export", "--run", runs[0], "--weights", "1", *data]) == 1
