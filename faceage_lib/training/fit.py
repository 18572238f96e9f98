"""Fit the multi-task model on the manifest's train split, pick the best epoch on val, export.

Resumable (an interrupted run continues from its last epoch), seeded, logged to CSV, and run
under a ``tf.distribute`` strategy that uses every GPU present. The test split is never read.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..config import cache_home
from ..errors import DatasetError
from .calibration import calibrate_interval_mass
from .config import TrainConfig
from .crops import load_or_build_crops
from .utkface import load_utkface


def distribution_strategy():
    """MirroredStrategy over all GPUs when there are several, else the default strategy."""
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()


def train(data_dir: str | os.PathLike | None, out_dir: str | os.PathLike, config: TrainConfig = TrainConfig(),
          work_dir: str | os.PathLike | None = None, verbose: int | str = "auto") -> Path:
    """Train, keep the best-on-val model, calibrate its age range on val, export. Returns ``out_dir``."""
    import keras

    from .export import export_model
    from .model import build_model, compile_model, load_keras_model
    from .feed import make_dataset

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    dataset = load_utkface(data_dir, work_dir)
    work = Path(work_dir) if work_dir else cache_home()
    train_rows, val_rows = dataset.split("train"), dataset.split("val")
    if train_rows.empty or val_rows.empty:  # else Keras fails later with an obscure error
        raise DatasetError(f"{dataset.root}: {len(dataset.table)} images are too few for a train and a val split")
    if config.limit:
        train_rows = train_rows.sample(min(config.limit, len(train_rows)), random_state=config.seed)
        val_rows = val_rows.head(max(1, config.limit // 4))
    crops = load_or_build_crops(dataset.table, config.img_size, work, progress=bool(verbose))
    train_ds = make_dataset(crops.rows(train_rows), train_rows["age"], train_rows["gender"],
                            config.batch_size, training=True, seed=config.seed)
    val_crops = crops.rows(val_rows)
    val_ds = make_dataset(val_crops, val_rows["age"], val_rows["gender"], config.batch_size)

    steps = config.epochs * int(np.ceil(len(train_rows) / config.batch_size))
    with distribution_strategy().scope():
        model = build_model(config.img_size, config.backbone, config.pretrained, config.width)
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps=max(1, steps - steps // config.epochs), warmup_target=config.learning_rate,
            warmup_steps=steps // config.epochs)
        compile_model(model, schedule, config.weight_decay)

    resuming = (out / "backup").is_dir()  # BackupAndRestore deletes it when a run completes
    if not resuming:
        (out / "training_log.csv").unlink(missing_ok=True)  # a new run starts a new log
    (out / "config.json").write_text(json.dumps(asdict(config), indent=2) + "\n")
    best = out / "best.keras"
    callbacks = [
        keras.callbacks.BackupAndRestore(str(out / "backup")),
        keras.callbacks.ModelCheckpoint(str(best), monitor="val_age_mae", mode="min", save_best_only=True),
        keras.callbacks.CSVLogger(str(out / "training_log.csv"), append=True),
        keras.callbacks.EarlyStopping(monitor="val_age_mae", mode="min", patience=config.patience),
    ]
    started = time.time()
    model.fit(train_ds, validation_data=val_ds, epochs=config.epochs, callbacks=callbacks, verbose=verbose)
    seconds = time.time() - started

    model = load_keras_model(best)
    probs = model.predict(val_ds, verbose=0)["age_probs"]
    mass = calibrate_interval_mass(probs, val_rows["age"].to_numpy())
    training = {"seconds_this_run": round(seconds), "train_images": len(train_rows),
                "val_images": len(val_rows), **asdict(config)}
    export_model(model, out, interval_mass=mass, training=training)
    return out
