"""Tests that fail when training is wrong: a model that learns nothing, swapped or shuffled targets,
a weight that gets no gradient, a gender loss that moves on rows without a gender label, and a
weight average that lags behind a short run."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from faceage_lib.training.config import TrainConfig

AGES = (3, 8, 15, 22, 30, 38, 46, 55, 63, 72)


def make_coded_folder(root, shuffled: bool, per_stratum: int = 12):
    """A UTKFace-like folder of flat images whose brightness encodes the age and whose tint encodes
    the gender (red: female, blue: male); ``shuffled`` gives the names labels of other images."""
    rng = np.random.default_rng(0)
    folder = root / "UTKFace"
    folder.mkdir(parents=True)
    labels = [(age + k % 3, gender) for age in AGES for gender in (0, 1) for k in range(per_stratum)]
    pixels = list(labels)
    if shuffled:
        rng.shuffle(labels)
    for index, ((age, gender), (name_age, name_gender)) in enumerate(zip(pixels, labels)):
        image = np.full((40, 40, 3), 30 + 2.5 * age, np.float32)
        image[..., 0 if gender else 2] += 60
        image += rng.normal(0, 4, image.shape)
        name = f"{name_age}_{name_gender}_0_2017011617{index:07d}.jpg.chip.jpg"
        Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(folder / name, quality=95)
    return folder


def train_on_coded(tmp_path, shuffled: bool) -> list[dict]:
    from faceage_lib.training.fit import train

    folder = make_coded_folder(tmp_path / "data", shuffled)
    config = TrainConfig(img_size=32, width=8, epochs=8, batch_size=32, learning_rate=3e-3, augment=False)
    out = train(folder, tmp_path / "run", config, work_dir=tmp_path / "work", verbose=0)
    with (out / "training_log.csv").open() as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def constant_mae(folder) -> float:
    from faceage_lib.data.utkface import load_utkface

    dataset = load_utkface(folder, folder.parent / "w")
    return float(np.mean(np.abs(dataset.split("val")["age"] - dataset.split("train")["age"].median())))


@pytest.mark.slow
@pytest.mark.parametrize("shuffled", [False, True], ids=["true targets", "shuffled targets"])
def test_training_learns_what_the_pixels_say(tmp_path, shuffled):
    log = train_on_coded(tmp_path, shuffled)
    baseline = constant_mae(tmp_path / "data" / "UTKFace")
    last = log[-1]
    learned = last["val_age_mae"] < 0.5 * baseline and last["val_gender_accuracy"] >= 0.8
    assert learned is not shuffled, (last, baseline)
    if not shuffled:  # the weight average a short run validates is not worse than its raw weights
        assert last["val_age_mae"] <= last["val_raw_age_mae"] + 1.0


def test_every_trainable_weight_gets_a_gradient():
    import tensorflow as tf

    from faceage_lib.training.model import build_model, compile_model

    model = compile_model(build_model(img_size=32, width=4), 1e-3)
    x = np.random.default_rng(0).uniform(0, 255, (8, 32, 32, 3)).astype(np.float32)
    ages = np.linspace(5, 80, 8).astype(np.float32)
    genders = np.array([0, 1] * 4, np.float32)
    with tf.GradientTape() as tape:
        outputs = model(x, training=True)
        losses = model.loss
        loss = (
            losses["age_probs"](ages, outputs["age_probs"])
            + tf.reduce_mean(tf.abs(outputs["age"][:, 0] - ages))
            + tf.reduce_mean(losses["gender"](genders, outputs["gender"]))
        )
    gradients = tape.gradient(loss, model.trainable_weights)
    silent = [w.path for w, g in zip(model.trainable_weights, gradients) if g is None or not np.any(np.asarray(g))]
    assert silent == []


def test_rows_without_gender_move_no_gender_weight():
    import tensorflow as tf

    from faceage_lib.training.model import UNKNOWN_GENDER, build_model, masked_binary_crossentropy

    model = build_model(img_size=32, width=4)
    x = np.random.default_rng(1).uniform(0, 255, (6, 32, 32, 3)).astype(np.float32)
    head = model.get_layer("gender").trainable_weights

    def gender_gradients(genders):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(
                masked_binary_crossentropy(np.asarray(genders, np.float32), model(x, training=False)["gender"])
            )
        return [np.asarray(g) for g in tape.gradient(loss, head)], float(loss)

    unknown, loss = gender_gradients([UNKNOWN_GENDER] * 6)
    assert loss == 0.0 and all(not np.any(g) for g in unknown)
    mixed, _ = gender_gradients([0, 1, UNKNOWN_GENDER, UNKNOWN_GENDER, 1, 0])
    known_only, _ = gender_gradients([0, 1, 1, 0, 1, 0])
    assert all(np.any(g) for g in mixed)
    per_row = masked_binary_crossentropy(np.array([0, 1, -1], np.float32), np.array([[0.2], [0.7], [0.9]], np.float32))
    np.testing.assert_allclose(np.asarray(per_row), [-np.log(0.8), -np.log(0.7), 0.0], rtol=1e-5)
    assert known_only  # both computed


def test_the_age_head_starts_at_the_training_ages():
    from faceage_lib.training.model import AGE_BINS, build_model, set_age_prior

    model = build_model(img_size=32, width=4)
    set_age_prior(model, [30] * 90 + [60] * 10)
    outputs = model.predict(np.zeros((2, 32, 32, 3), np.float32), verbose=0)
    assert outputs["age_probs"].shape == (2, AGE_BINS)
    assert float(outputs["age"][0, 0]) == pytest.approx(33, abs=1)  # the training ages' mean, not 58


def test_init_from_starts_at_those_weights_and_refuses_another_shape(tmp_path):
    from faceage_lib.training.model import build_from_config, build_model

    start = build_model(img_size=32, width=4)
    start.save(tmp_path / "start.keras")
    model = build_from_config(TrainConfig(img_size=32, width=4, init_from=str(tmp_path / "start.keras")))
    for mine, theirs in zip(model.get_weights(), start.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    with pytest.raises(ValueError, match="do not fit"):
        build_from_config(TrainConfig(img_size=32, width=8, init_from=str(tmp_path / "start.keras")))


def test_init_from_an_ensemble_starts_from_the_member_that_fits(tmp_path):
    from faceage_lib.training.ensemble import ensemble_model
    from faceage_lib.training.model import build_from_config, build_model

    narrow, wide = build_model(img_size=32, width=4), build_model(img_size=32, width=8)
    ensemble_model([narrow, wide]).save(tmp_path / "ensemble.keras")
    model = build_from_config(TrainConfig(img_size=32, width=8, init_from=str(tmp_path / "ensemble.keras")))
    for mine, theirs in zip(model.get_weights(), wide.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    with pytest.raises(ValueError, match="nor an ensemble holding one"):
        build_from_config(TrainConfig(img_size=32, width=16, init_from=str(tmp_path / "ensemble.keras")))


def test_crop_weights_weigh_photos_and_thin_age_bands():
    import pandas as pd

    from faceage_lib.data.dataset import Dataset
    from faceage_lib.training.fit import crop_weights

    rows = pd.DataFrame({"source": ["utkface"] * 3 + ["appa-real"], "age": [20, 21, 22, 60]})
    datasets = [Dataset("utkface", None, rows, 3, chips=True), Dataset("appa-real", None, rows, 1)]
    assert crop_weights(rows, datasets, TrainConfig()) is None
    photos = crop_weights(rows, datasets, TrainConfig(photo_weight=3))
    np.testing.assert_allclose(photos, [2 / 3, 2 / 3, 2 / 3, 2], rtol=1e-6)  # 1, 1, 1, 3 scaled to mean 1
    balanced = crop_weights(rows, datasets, TrainConfig(age_balance=1))
    assert balanced[3] == pytest.approx(3 * balanced[0])  # the 60-64 band holds a third as many crops
