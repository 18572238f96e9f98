"""Fit the multi-task model on the train splits; validate and export the weight average.

The recipe: augmentation inside the model (:mod:`.augment`, pose, light and capture quality),
AdamW with a one-cycle learning rate (linear warm-up, cosine decay), and an exponential moving
average of every weight (batch-norm statistics included), which is what is validated, kept and
exported. A model trained from scratch starts with its age head at the training ages' distribution.
Trains on one dataset or several (UTKFace and labelled folders such as APPA-REAL, whose
rows have no gender: they add no gender loss). Runs on any Keras 3 backend from NumPy arrays;
resumable after an interruption (``BackupAndRestore`` plus the average's own checkpoint). The
test splits are never read.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import cache_home
from ..data.crops import load_or_build_crops
from ..data.dataset import Dataset
from ..data.sources import load_datasets
from ..errors import DatasetError
from ..inference.estimator import median_age
from .backend import keras
from .config import TrainConfig
from .runs import check_same_config, run_config, run_made_by, run_rows, usable_rows, write_config

DataDirs = Sequence[str | os.PathLike | None] | str | os.PathLike | None


def train(
    data_dirs: DataDirs,
    out_dir: str | os.PathLike,
    config: TrainConfig = TrainConfig(),
    work_dir: str | os.PathLike | None = None,
    verbose: int | str = "auto",
) -> Path:
    """Train, keep the best weight average on val, calibrate on val, export. Returns ``out_dir``."""
    from .augment import Augment
    from .export import export_best, made_by
    from .model import build_from_config, compile_model, set_age_prior

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    if config.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    work = Path(work_dir) if work_dir else cache_home()
    datasets = load_datasets(data_dirs, work)
    train_rows, val_rows = run_rows(datasets, config)
    used = pd.concat([d.table for d in datasets]) if not config.limit else pd.concat([train_rows, val_rows])
    crops = load_or_build_crops(used, config.crop(), work, progress=bool(verbose))  # a quick try crops only these
    train_rows, val_rows = (usable_rows(rows, crops, datasets) for rows in (train_rows, val_rows))
    train_x, val_x = crops.rows(train_rows), crops.rows(val_rows)

    core = build_from_config(config)
    if not config.init_from:
        set_age_prior(core, train_rows["age"])
    inputs = keras.Input((config.img_size, config.img_size, 3), name="crop")
    augmented = Augment(seed=config.seed)(inputs) if config.augment else inputs
    model = keras.Model(inputs, core(augmented), name="faceage_training")
    steps = config.epochs * int(np.ceil(len(train_rows) / config.batch_size))
    warmup = int(steps * config.warmup)
    schedule = keras.optimizers.schedules.CosineDecay(
        config.learning_rate * config.warmup_start,
        decay_steps=max(1, steps - warmup),
        warmup_target=config.learning_rate,
        warmup_steps=warmup,
        alpha=config.final_lr,
    )
    compile_model(model, schedule, config)

    resuming = (out / "backup").is_dir()  # BackupAndRestore deletes it when a run completes
    if resuming:
        check_same_config(out, config)  # config.json stays as the run was started
    else:
        (out / "training_log.csv").unlink(missing_ok=True)  # a new run starts a new log
        write_config(out, config, made_by())
    best = out / "best.keras"
    average = WeightAverage(core, config, val_x, val_rows, best, out / "backup" / "average.npz")
    callbacks = [
        keras.callbacks.BackupAndRestore(str(out / "backup")),
        average,  # after the backup: a crash between the two repeats at most one epoch of averaging
        keras.callbacks.CSVLogger(str(out / "training_log.csv"), append=True),
    ]
    started = time.time()
    model.fit(
        train_x,
        targets(train_rows),
        sample_weight=crop_weights(train_rows, datasets, config),
        batch_size=config.batch_size,
        epochs=config.epochs,
        callbacks=callbacks,
        verbose=verbose,
    )
    seconds = time.time() - started

    training = {
        "seconds_this_run": round(seconds),
        "train_images": len(train_rows),
        "val_images": len(val_rows),
        "datasets": {
            d.name: {
                "train": int((train_rows["source"] == d.name).sum()),
                "val": int((val_rows["source"] == d.name).sum()),
            }
            for d in datasets
        },
        "best_epoch": average.best_epoch,
        "backend": keras.backend.backend(),
        **asdict(config),
        **run_made_by(out),  # the faceage that trained it (the manifest's own keys: the one that exports)
    }
    return export_best(out, val_rows, training, config.crop())


def resume(
    data_dirs: DataDirs,
    run_dir: str | os.PathLike,
    work_dir: str | os.PathLike | None = None,
    verbose: int | str = "auto",
) -> Path:
    """Continue an interrupted run from its last finished epoch, with the settings it was started
    with (its ``config.json``); ``DatasetError`` when ``run_dir`` holds no run to continue."""
    run = Path(run_dir)
    if not (run / "config.json").is_file():
        raise DatasetError(f"{run} is not a training run's folder (no config.json): nothing to resume")
    if not (run / "backup").is_dir():
        raise DatasetError(f"{run} has no checkpoint to resume from: the run finished (or never ended an epoch)")
    config = run_config(run)
    return train(data_dirs, run, config, work_dir, verbose)


def targets(rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """The three outputs' targets; a crop without a gender label gets :data:`~.model.UNKNOWN_GENDER`."""
    from .model import UNKNOWN_GENDER

    ages = rows["age"].to_numpy(np.float32)
    genders = rows["gender"].astype("Float64").fillna(UNKNOWN_GENDER).to_numpy(np.float32)
    return {"age_probs": ages, "age": ages, "gender": genders}


def crop_weights(
    rows: pd.DataFrame, datasets: Sequence[Dataset], config: TrainConfig, band: int = 5
) -> np.ndarray | None:
    """Per-crop weights, mean 1: ``photo_weight`` for crops of datasets of whole photos, times
    ``share of the crop's age band ** -age_balance``; ``None`` when both leave every crop at 1."""
    photos = {dataset.name for dataset in datasets if not dataset.chips}
    weights = np.where(rows["source"].isin(photos), config.photo_weight, 1.0)
    if config.age_balance:
        bands = (rows["age"].to_numpy() // band).astype(int)
        weights = weights * (np.bincount(bands)[bands] / len(bands)) ** -config.age_balance
    if np.all(weights == weights[0]):
        return None
    return (weights / weights.mean()).astype(np.float32)


class WeightAverage(keras.callbacks.Callback):
    """An exponential moving average of every weight of ``core`` (batch-norm statistics included).

    Its decay warms up (``min(ema_decay, (1 + t) / (ema_warmup + t))`` at step t), so a short run's
    average follows its weights. After each epoch the average is validated (age MAE, overall and
    per source, and gender accuracy on the crops with a gender label go into the log as
    ``val_age_mae``, ``val_age_mae_<source>``, ``val_gender_accuracy``; the raw weights' MAE as
    ``val_raw_age_mae``) and saved to ``best`` when its MAE is the lowest so far. Its state is
    checkpointed to ``state`` for resuming.
    """

    def __init__(
        self, core: keras.Model, config: TrainConfig, val_x: np.ndarray, val_rows: pd.DataFrame, best: Path, state: Path
    ):
        super().__init__()
        self.core, self.config = core, config
        self.val_x, self.val_rows = val_x, val_rows
        self.best, self.state = best, state
        self.average: list[np.ndarray] = []
        self.updates = 0
        self.best_mae, self.best_epoch = np.inf, -1

    def on_train_begin(self, logs=None):
        self.average = [np.array(w, np.float32) for w in self.core.get_weights()]
        if self.state.is_file():  # resuming: BackupAndRestore has restored the model itself
            with np.load(self.state) as stored:
                self.average = [stored[f"w{i}"] for i in range(len(self.average))]
                self.updates, self.best_mae, self.best_epoch = (
                    int(stored["updates"]),
                    float(stored["best_mae"]),
                    int(stored["best_epoch"]),
                )

    def on_train_batch_end(self, batch, logs=None):
        self.updates += 1
        decay = min(self.config.ema_decay, (1 + self.updates) / (self.config.ema_warmup + self.updates))
        for average, weight in zip(self.average, self.core.get_weights()):
            average *= decay
            average += (1 - decay) * weight

    def validate(self, weights: list[np.ndarray]) -> dict[str, float]:
        """Val figures of ``core`` with ``weights`` (its own weights are put back)."""
        current = self.core.get_weights()
        self.core.set_weights(weights)
        outputs = self.core.predict(self.val_x, batch_size=self.config.val_batch_size, verbose=0)
        self.core.set_weights(current)
        error = np.abs(median_age(outputs["age_probs"].astype(np.float64)) - self.val_rows["age"].to_numpy())
        figures = {"val_age_mae": float(error.mean())}
        for source, index in self.val_rows.groupby("source").indices.items():
            figures[f"val_age_mae_{source}"] = float(error[index].mean())
        known = self.val_rows["gender"].notna().to_numpy()
        if known.any():
            right = (outputs["gender"][known, 0] >= 0.5) == (self.val_rows["gender"][known].to_numpy(int) == 1)
            figures["val_gender_accuracy"] = float(right.mean())
        return figures

    def on_epoch_end(self, epoch, logs=None):
        figures = self.validate(self.average)
        figures["val_raw_age_mae"] = self.validate(self.core.get_weights())["val_age_mae"]
        if logs is not None:
            logs.update(figures)
        if figures["val_age_mae"] < self.best_mae:
            self.best_mae, self.best_epoch = figures["val_age_mae"], epoch + 1
            current = self.core.get_weights()
            self.core.set_weights(self.average)
            self.core.save(self.best)
            self.core.set_weights(current)
        self.state.parent.mkdir(parents=True, exist_ok=True)
        np.savez(
            self.state,
            updates=self.updates,
            best_mae=self.best_mae,
            best_epoch=self.best_epoch,
            **{f"w{i}": w for i, w in enumerate(self.average)},
        )
