"""The training half: pipeline, model, train, export, checksums, and the age-range arithmetic."""

from __future__ import annotations

import csv
import json
import shutil

import keras
import numpy as np
import pytest

from faceage_lib import modelfiles
from faceage_lib.errors import DatasetError, ModelFileError
from faceage_lib.estimator import AgeGenderEstimator, age_from_distribution, calibrate_interval_mass
from faceage_lib.model import AGE_BINS, build_model


def _crops(n: int, size: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


# --------------------------------------------------------------------------- pipeline


def test_make_dataset_shapes_dtypes_and_values():
    from faceage_lib.pipeline import make_dataset

    crops = _crops(10)
    ages, genders = np.arange(10) + 20, np.arange(10) % 2
    batches = list(make_dataset(crops, ages, genders, batch_size=4).as_numpy_iterator())
    assert [len(x) for x, _ in batches] == [4, 4, 2]
    for x, y in batches:
        assert x.dtype == np.float32
        assert x.shape[1:] == (32, 32, 3)
        assert 0 <= x.min() and x.max() <= 255
        assert set(y) == {"age_probs", "age", "gender"}
        for target in y.values():
            assert target.dtype == np.float32 and target.shape == (len(x),)
    # not training: no shuffle, no augmentation, the crops exactly
    np.testing.assert_array_equal(np.concatenate([x for x, _ in batches]), crops.astype(np.float32))
    np.testing.assert_array_equal(np.concatenate([y["age"] for _, y in batches]), ages)
    np.testing.assert_array_equal(np.concatenate([y["age_probs"] for _, y in batches]), ages)
    np.testing.assert_array_equal(np.concatenate([y["gender"] for _, y in batches]), genders)


def test_training_dataset_augments_within_range():
    from faceage_lib.pipeline import make_dataset

    crops = _crops(12)
    ages, genders = np.arange(12) + 30, np.arange(12) % 2
    batches = list(make_dataset(crops, ages, genders, batch_size=5, training=True, seed=1).as_numpy_iterator())
    assert [len(x) for x, _ in batches] == [5, 5, 2]
    images = np.concatenate([x for x, _ in batches])
    assert images.dtype == np.float32 and images.shape == (12, 32, 32, 3)
    assert images.min() >= 0 and images.max() <= 255
    # shuffled together: every image keeps its labels, all images are there once
    seen_ages = np.concatenate([y["age"] for _, y in batches])
    seen_genders = np.concatenate([y["gender"] for _, y in batches])
    assert sorted(seen_ages) == sorted(ages)
    np.testing.assert_array_equal(seen_genders, (seen_ages - 30) % 2)
    # augmented: the pixels differ from the originals
    originals = crops[(seen_ages - 30).astype(int)].astype(np.float32)
    assert np.mean(np.abs(images - originals)) > 5


def test_augmenter_keeps_shape_and_range():
    from faceage_lib.pipeline import augmenter

    batch = np.full((3, 40, 40, 3), 250, np.float32)
    out = np.clip(np.asarray(augmenter(0)(batch, training=True)), 0, 255)
    assert out.shape == (3, 40, 40, 3)
    assert out.min() >= 0 and out.max() <= 255
    np.testing.assert_array_equal(np.asarray(augmenter(0)(batch, training=False)), batch)


# --------------------------------------------------------------------------- model


def test_build_model_outputs():
    from faceage_lib.model import build_model, inference_model

    model = build_model(img_size=32, width=4)
    x = _crops(3).astype(np.float32)
    out = model.predict(x, verbose=0)
    assert out["age_probs"].shape == (3, AGE_BINS) == (3, 117)
    assert out["age"].shape == (3, 1)
    assert out["gender"].shape == (3, 1)
    np.testing.assert_allclose(out["age_probs"].sum(axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(out["age"][:, 0], out["age_probs"] @ np.arange(AGE_BINS), rtol=1e-5)
    assert np.all((out["gender"] > 0) & (out["gender"] < 1))
    joined = inference_model(model).predict(x, verbose=0)
    assert joined.shape == (3, AGE_BINS + 1)
    np.testing.assert_allclose(joined[:, :-1], out["age_probs"], atol=1e-6)
    np.testing.assert_allclose(joined[:, -1], out["gender"][:, 0], atol=1e-6)


@pytest.mark.parametrize("size, width", [(32, 4), (64, 8)])
def test_build_model_input_size(size, width):
    from faceage_lib.model import build_model

    model = build_model(img_size=size, width=width)
    assert tuple(model.inputs[0].shape) == (None, size, size, 3)


def test_unknown_backbone():
    from faceage_lib.model import build_model

    with pytest.raises(ValueError, match="unknown backbone 'resnet'"):
        build_model(backbone="resnet")


def test_age_distribution_loss_is_lowest_at_the_true_age():
    from faceage_lib.model import age_distribution_loss

    ages = np.arange(AGE_BINS)
    def gaussian(centre):
        p = np.exp(-0.5 * ((ages - centre) / 2.0) ** 2)
        return (p / p.sum())[None].astype(np.float32)

    at_truth = float(np.asarray(age_distribution_loss(np.array([40.0]), gaussian(40)))[0])
    off = float(np.asarray(age_distribution_loss(np.array([40.0]), gaussian(50)))[0])
    assert at_truth == pytest.approx(0, abs=1e-5)
    assert off > 1


def test_save_and_load_round_trip(tmp_path):
    from faceage_lib.model import build_model, load_keras_model

    keras.utils.set_random_seed(3)
    model = build_model(img_size=32, width=4)
    model.save(tmp_path / "m.keras")
    loaded = load_keras_model(tmp_path / "m.keras")
    x = _crops(4, seed=5).astype(np.float32)
    before, after = model.predict(x, verbose=0), loaded.predict(x, verbose=0)
    for name in ("age_probs", "age", "gender"):
        np.testing.assert_array_equal(after[name], before[name])


def test_tflite_matches_keras(tiny_model_dir):
    from faceage_lib.model import load_keras_model

    keras_model = load_keras_model(tiny_model_dir / "model.keras")
    estimator = AgeGenderEstimator(tiny_model_dir)
    assert estimator.img_size == 32
    assert estimator.interval_mass == 0.8
    crops = _crops(6, seed=7)
    expected = keras_model.predict(crops.astype(np.float32), verbose=0)
    got = estimator.predict(crops)
    np.testing.assert_allclose(got.age, expected["age"][:, 0], atol=1e-4)
    np.testing.assert_allclose(got.p_female, expected["gender"][:, 0], atol=1e-4)
    assert np.all(got.age_low <= got.age) and np.all(got.age <= got.age_high)
    # the crops differ, so do the outputs (the test would notice a constant model)
    assert np.ptp(got.age) > 1e-3


def test_estimator_input_checks_and_flip(tiny_model_dir):
    estimator = AgeGenderEstimator(tiny_model_dir)
    with pytest.raises(ValueError, match=r"crops must be \(N, 32, 32, 3\)"):
        estimator.predict(np.zeros((2, 64, 64, 3), np.uint8))
    empty = estimator.predict(np.zeros((0, 32, 32, 3), np.uint8))
    assert len(empty.age) == len(empty.p_female) == 0
    crops = _crops(3, seed=9)
    plain, mirrored = estimator.predict(crops), estimator.predict(crops[:, :, ::-1])
    flipped = estimator.predict(crops, flip=True)
    np.testing.assert_allclose(flipped.p_female, (plain.p_female + mirrored.p_female) / 2, atol=1e-5)
    # batched and one by one agree
    single = [estimator.predict(crops[i:i + 1]).age[0] for i in range(3)]
    np.testing.assert_allclose(single, plain.age, atol=1e-4)


# --------------------------------------------------------------------------- train


@pytest.fixture(scope="module")
def trained(utkface_dir, tmp_path_factory):
    from faceage_lib.train import TrainConfig, train

    out = tmp_path_factory.mktemp("trained")
    work = tmp_path_factory.mktemp("train_work")
    config = TrainConfig(epochs=1, limit=32, batch_size=16, img_size=32, width=4)
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
    assert [row["epoch"] for row in rows] == ["0"]
    assert float(rows[0]["val_age_mae"]) > 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["img_size"] == 32
    assert set(manifest["files"]) == {"model.tflite", "model.keras"}
    assert 0.5 <= manifest["interval_mass"] <= 0.999
    assert manifest["training"]["train_images"] == 32
    assert manifest["training"]["val_images"] == 6  # limit // 4 = 8, but the fixture's val split holds 6
    assert json.loads((out / "config.json").read_text())["epochs"] == 1


def test_trained_export_loads_and_agrees(trained):
    from faceage_lib.model import load_keras_model

    out = trained["out"]
    keras_model = load_keras_model(out / "model.keras")
    crops = _crops(4, seed=11)
    expected = keras_model.predict(crops.astype(np.float32), verbose=0)
    got = AgeGenderEstimator(out).predict(crops)
    np.testing.assert_allclose(got.age, expected["age"][:, 0], atol=1e-4)
    np.testing.assert_allclose(got.p_female, expected["gender"][:, 0], atol=1e-4)
    best = load_keras_model(out / "best.keras")  # 1 epoch: the best is the exported one
    np.testing.assert_allclose(best.predict(crops.astype(np.float32), verbose=0)["age"], expected["age"], atol=1e-5)


def test_train_refuses_a_dataset_without_val(tmp_path):
    from PIL import Image

    from faceage_lib.train import TrainConfig, train

    folder = tmp_path / "UTKFace"
    folder.mkdir()
    for k in range(3):
        Image.new("RGB", (40, 40), (k * 50, 0, 0)).save(folder / f"{20 + k}_0_0_2017011617452{k:04d}.jpg.chip.jpg")
    with pytest.raises(DatasetError, match="too few"):
        train(folder, tmp_path / "out", TrainConfig(epochs=1, img_size=32, width=4), work_dir=tmp_path / "w", verbose=0)


# --------------------------------------------------------------------------- model files and checksums


@pytest.fixture
def model_copy(tiny_model_dir, tmp_path):
    return shutil.copytree(tiny_model_dir, tmp_path / "model")


def test_checksums_pass(model_copy):
    path, manifest = modelfiles.verified_model(model_copy)
    assert path == model_copy / "model.tflite"
    assert manifest["img_size"] == 32
    path, _ = modelfiles.verified_model(model_copy / "model.tflite")  # the file itself
    assert path == model_copy / "model.tflite"
    path, _ = modelfiles.verified_model(model_copy, "model.keras")
    assert path == model_copy / "model.keras"
    manifest_files = json.loads((model_copy / "manifest.json").read_text())["files"]
    assert manifest_files["model.tflite"]["sha256"] == modelfiles.sha256(model_copy / "model.tflite")
    assert manifest_files["model.tflite"]["bytes"] == (model_copy / "model.tflite").stat().st_size


def test_corrupted_file_is_rejected(model_copy):
    tflite = model_copy / "model.tflite"
    data = bytearray(tflite.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tflite.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="does not match its checksum"):
        AgeGenderEstimator(model_copy)


def test_truncated_keras_file_is_rejected(model_copy):
    keras_file = model_copy / "model.keras"
    keras_file.write_bytes(keras_file.read_bytes()[:100])
    with pytest.raises(ModelFileError, match="does not match its checksum"):
        modelfiles.verified_model(model_copy, "model.keras")


def test_missing_file_is_rejected(model_copy):
    (model_copy / "model.tflite").unlink()
    with pytest.raises(ModelFileError, match="model.tflite is missing"):
        AgeGenderEstimator(model_copy)


def test_missing_manifest_is_rejected(model_copy):
    (model_copy / "manifest.json").unlink()
    with pytest.raises(ModelFileError, match="manifest.json is missing"):
        AgeGenderEstimator(model_copy)


def test_damaged_manifest_is_rejected(model_copy):
    (model_copy / "manifest.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="damaged"):
        AgeGenderEstimator(model_copy)
    (model_copy / "manifest.json").write_text(json.dumps({"files": {}}))
    with pytest.raises(ModelFileError, match="does not list model.tflite"):
        AgeGenderEstimator(model_copy)


def test_not_a_model_folder(tmp_path):
    with pytest.raises(ModelFileError, match="not a faceage model folder"):
        AgeGenderEstimator(tmp_path)


def test_default_model_dir_from_environment(monkeypatch, model_copy):
    monkeypatch.setenv("FACEAGE_MODEL_DIR", str(model_copy))
    assert modelfiles.default_model_dir() == model_copy
    assert AgeGenderEstimator().img_size == 32
    monkeypatch.delenv("FACEAGE_MODEL_DIR")
    assert modelfiles.default_model_dir() != model_copy


# --------------------------------------------------------------------------- age and its range from a distribution


def _one_hot(age: int, bins: int = AGE_BINS) -> np.ndarray:
    probs = np.zeros((1, bins))
    probs[0, age] = 1
    return probs


@pytest.mark.parametrize("mass", [0.5, 0.8, 0.99])
def test_one_hot_distribution(mass):
    age, low, high = age_from_distribution(_one_hot(37), mass)
    assert age[0] == low[0] == high[0] == 37


def test_uniform_distribution():
    """Uniform over 0..116: expected 58; the central 80% runs from age 11 to age 105 (cdf 12/117, 106/117)."""
    age, low, high = age_from_distribution(np.full((1, AGE_BINS), 1 / AGE_BINS), 0.8)
    assert age[0] == pytest.approx(58)
    assert (low[0], high[0]) == (11, 105)
    assert (low[0] + high[0]) / 2 == pytest.approx(58)


def test_two_point_distribution_and_normalisation():
    probs = np.zeros((2, AGE_BINS))
    probs[0, [20, 40]] = 0.5
    probs[1, [20, 40]] = 3.0  # not normalised: the same distribution
    age, low, high = age_from_distribution(probs, 0.8)
    np.testing.assert_allclose(age, [30, 30])
    np.testing.assert_array_equal(low, [20, 20])
    np.testing.assert_array_equal(high, [40, 40])


def test_interval_always_holds_the_expected_age():
    probs = np.zeros((1, AGE_BINS))
    probs[0, 10], probs[0, 100] = 0.95, 0.05  # expected 14.5, but the central 50% is just age 10
    age, low, high = age_from_distribution(probs, 0.5)
    assert age[0] == pytest.approx(14.5)
    assert (low[0], high[0]) == (10, 14.5)


def test_interval_widens_with_mass():
    rng = np.random.default_rng(0)
    probs = rng.random((5, AGE_BINS))
    widths = [age_from_distribution(probs, m)[2] - age_from_distribution(probs, m)[1] for m in (0.5, 0.8, 0.95)]
    assert np.all(widths[0] <= widths[1]) and np.all(widths[1] <= widths[2])


def test_calibration_exact_distributions_need_the_smallest_mass():
    probs = np.concatenate([_one_hot(a) for a in (5, 30, 70)])
    assert calibrate_interval_mass(probs, np.array([5, 30, 70])) == 0.5


def test_calibration_impossible_coverage_gives_the_largest_mass():
    probs = np.concatenate([_one_hot(a) for a in (5, 30, 70)])
    assert calibrate_interval_mass(probs, np.array([50, 50, 50])) == 0.999


def test_calibration_on_uniform_rows():
    """Every row uniform over ages 0..99, true ages 0..99: the interval must span 80 ages of 100."""
    probs = np.zeros((100, AGE_BINS))
    probs[:, :100] = 0.01
    ages = np.arange(100)
    mass = calibrate_interval_mass(probs, ages)
    _, low, high = age_from_distribution(probs, mass)
    assert np.mean((low <= ages) & (ages <= high)) >= 0.8
    _, low, high = age_from_distribution(probs, mass - 0.003)  # one step of the search grid smaller
    assert np.mean((low <= ages) & (ages <= high)) < 0.8
    assert 0.78 <= mass <= 0.81
    assert calibrate_interval_mass(probs, ages, coverage=0.5) < mass


@pytest.mark.parametrize("backbone", ["mobilenetv3small", "efficientnetb0"])
def test_keras_applications_backbones_build(backbone):
    """The pretrained-backbone option builds the same heads (weights=None: no download here)."""
    model = build_model(img_size=64, backbone=backbone, pretrained=False)
    outputs = model(np.zeros((2, 64, 64, 3), np.float32))
    assert outputs["age_probs"].shape == (2, AGE_BINS)
    assert outputs["age"].shape == (2, 1) and outputs["gender"].shape == (2, 1)


def test_unknown_backbone_is_refused():
    with pytest.raises(ValueError, match="unknown backbone"):
        build_model(backbone="resnet9000")
