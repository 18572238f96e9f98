"""Fit the multi-task model on the train split; validate and export the weight average.

The recipe: augmentation inside the model (:mod:`.augment`, pose, light and capture quality),
AdamW with a one-cycle learning rate (linear warm-up, cosine decay), and an exponential moving
average of every weight (batch-norm statistics included), which is what is validated, kept and
exported. Runs on any Keras 3 backend from NumPy arrays; resumable after an interruption
(``BackupAndRestore`` plus the average's own checkpoint). The test split is never read.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import cache_home
from ..data.crops import load_or_build_crops
from ..data.utkface import load_utkface
from .backend import keras
from .config import TrainConfig


def train(data_dir: str | os.PathLike | None, out_dir: str | os.PathLike, config: TrainConfig = TrainConfig(),
          work_dir: str | os.PathLike | None = None, verbose: int | str = "auto") -> Path:
    """Train, keep the best weight average on val, calibrate on val, export. Returns ``out_dir``."""
    from .augment import Augment
    from .export import export_best
    from .model import build_model, compile_model

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    if config.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    dataset = load_utkface(data_dir, work_dir)
    work = Path(work_dir) if work_dir else cache_home()
    train_rows, val_rows = dataset.train_val(config.limit, config.seed)
    used = dataset.table if not config.limit else pd.concat([train_rows, val_rows])  # a quick try crops only these
    crops = load_or_build_crops(used, config.img_size, work, progress=bool(verbose))
    train_x, val_x = crops.rows(train_rows), crops.rows(val_rows)

    core = build_model(config.img_size, config.backbone, config.pretrained, config.width)
    inputs = keras.Input((config.img_size, config.img_size, 3), name="crop")
    augmented = Augment(seed=config.seed)(inputs) if config.augment else inputs
    model = keras.Model(inputs, core(augmented), name="faceage_training")
    steps = config.epochs * int(np.ceil(len(train_rows) / config.batch_size))
    warmup = int(steps * config.warmup)
    schedule = keras.optimizers.schedules.CosineDecay(
        config.learning_rate / 25, decay_steps=max(1, steps - warmup), warmup_target=config.learning_rate,
        warmup_steps=warmup, alpha=1e-3)
    compile_model(model, schedule, config.weight_decay)

    resuming = (out / "backup").is_dir()  # BackupAndRestore deletes it when a run completes
    if not resuming:
        (out / "training_log.csv").unlink(missing_ok=True)  # a new run starts a new log
    (out / "config.json").write_text(json.dumps(asdict(config), indent=2) + "\n")
    best = out / "best.keras"
    average = WeightAverage(core, config.ema_decay, val_x, val_rows["age"].to_numpy(),
                            val_rows["gender"].to_numpy(), best, out / "backup" / "average.npz")
    callbacks = [
        keras.callbacks.BackupAndRestore(str(out / "backup")),
        average,  # after the backup: a crash between the two repeats at most one epoch of averaging
        keras.callbacks.CSVLogger(str(out / "training_log.csv"), append=True),
    ]
    started = time.time()
    model.fit(train_x, _targets(train_rows), batch_size=config.batch_size, epochs=config.epochs,
              callbacks=callbacks, verbose=verbose)
    seconds = time.time() - started

    training = {"seconds_this_run": round(seconds), "train_images": len(train_rows), "val_images": len(val_rows),
                "best_epoch": average.best_epoch, "backend": keras.backend.backend(), **asdict(config)}
    return export_best(out, val_rows, training)


def _targets(rows) -> dict[str, np.ndarray]:
    ages = rows["age"].to_numpy(np.float32)
    return {"age_probs": ages, "age": ages, "gender": rows["gender"].to_numpy(np.float32)}


class WeightAverage(keras.callbacks.Callback):
    """An exponential moving average of every weight of ``core`` (batch-norm statistics included).

    After each epoch the average is validated (age MAE and gender accuracy on the val crops go
    into the log as ``val_age_mae`` / ``val_gender_accuracy``) and saved to ``best`` when its
    MAE is the lowest so far. Its state is checkpointed to ``state`` for resuming.
    """

    def __init__(self, core: keras.Model, decay: float, val_x: np.ndarray, val_ages: np.ndarray,
                 val_genders: np.ndarray, best: Path, state: Path):
        super().__init__()
        self.core, self.decay = core, decay
        self.val_x, self.val_ages, self.val_genders = val_x, val_ages, val_genders
        self.best, self.state = best, state
        self.average: list[np.ndarray] = []
        self.updates = 0
        self.best_mae, self.best_epoch = np.inf, -1

    def on_train_begin(self, logs=None):
        self.average = [np.array(w, np.float32) for w in self.core.get_weights()]
        if self.state.is_file():  # resuming: BackupAndRestore has restored the model itself
            with np.load(self.state) as stored:
                self.average = [stored[f"w{i}"] for i in range(len(self.average))]
                self.updates, self.best_mae, self.best_epoch = int(stored["updates"]), float(stored["best_mae"]), \
                    int(stored["best_epoch"])

    def on_train_batch_end(self, batch, logs=None):
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))  # short memory while it warms up
        for average, weight in zip(self.average, self.core.get_weights()):
            average *= decay
            average += (1 - decay) * weight

    def on_epoch_end(self, epoch, logs=None):
        current = self.core.get_weights()
        self.core.set_weights(self.average)
        outputs = self.core.predict(self.val_x, batch_size=512, verbose=0)
        mae = float(np.mean(np.abs(outputs["age"][:, 0] - self.val_ages)))
        accuracy = float(np.mean((outputs["gender"][:, 0] >= 0.5) == (self.val_genders == 1)))
        if logs is not None:
            logs.update(val_age_mae=mae, val_gender_accuracy=accuracy)
        if mae < self.best_mae:
            self.best_mae, self.best_epoch = mae, epoch + 1
            self.core.save(self.best)
        self.core.set_weights(current)
        self.state.parent.mkdir(parents=True, exist_ok=True)
        np.savez(self.state, updates=self.updates, best_mae=self.best_mae, best_epoch=self.best_epoch,
                 **{f"w{i}": w for i, w in enumerate(self.average)})
