"""Fine-tune dlib's gender network on the train splits' gender labels (``faceage attach-gender
--fine-tune EPOCHS``).

The network learns from the crop it runs on (the member's template crop, which the caller
gives: :func:`.gender_member.gender_crop`), through the age model's training augmentation
(:class:`.augment.Augment`: pose, light and capture quality), with AdamW and a cosine-decayed
learning rate. The weights kept are those of the epoch with the best val accuracy (every val face
with a gender label), dlib's own weights (epoch 0) included: a fine-tune that does not help on
val leaves the network as dlib made it.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..config import cache_home
from ..data.crops import load_or_build_crops
from ..data.sources import combined_split, load_datasets
from ..errors import DatasetError
from ..inference.crop import CropSpec


@dataclass(frozen=True)
class GenderFineTune:
    """How dlib's gender network is fine-tuned (the defaults: the shipped member's, chosen on val
    from 6, 12 and 24 epochs at 2e-4 to 1e-3: ``benchmarks/results/gender_finetune.json``)."""

    epochs: int = 24
    learning_rate: float = 5e-4
    weight_decay: float = 1e-4
    batch_size: int = 128
    seed: int = 0


def gender_split(datasets, split: str, crop: CropSpec, work_dir: Path, progress: bool) -> tuple[np.ndarray, np.ndarray]:
    """The ``crop`` crops (float32 in [0, 255]) of the ``split`` faces with a gender label, and
    their class in the network's outputs (female: :data:`.dlib_gender.P_FEMALE`)."""
    from .dlib_gender import P_FEMALE
    from .runs import usable_rows

    rows = combined_split(datasets, split)
    rows = rows[rows["gender"].notna()]
    if not len(rows):
        raise DatasetError(f"no {split} face has a gender label: fine-tuning needs a dataset with genders (UTKFace)")
    crops = load_or_build_crops(rows, crop, work_dir, progress)
    rows = usable_rows(rows, crops, datasets)
    female = rows["gender"].to_numpy(float) == 1
    return crops.rows(rows).astype(np.float32), np.where(female, P_FEMALE, 1 - P_FEMALE).astype(np.int32)


def fine_tuned_gender(
    crop: CropSpec,
    data_dirs=None,
    config: GenderFineTune | None = None,
    work_dir: str | os.PathLike | None = None,
    progress: bool = True,
):
    """dlib's gender network fine-tuned on its ``crop`` as ``config`` says, and its record: the
    settings, the val accuracy after each epoch (epoch 0: dlib's weights) and the epoch kept."""
    from .backend import keras  # noqa: I001  (first: Keras imported quietly)
    from .augment import Augment
    from .dlib_gender import IMG_SIZE, dlib_gender

    config = config or GenderFineTune()
    if config.epochs < 1:
        raise ValueError(f"a fine-tune needs at least one epoch, not {config.epochs}")
    keras.utils.set_random_seed(config.seed)
    datasets = load_datasets(data_dirs, work_dir)
    work = Path(work_dir) if work_dir else cache_home()
    (x_train, y_train), (x_val, y_val) = (
        gender_split(datasets, split, crop, work, progress) for split in ("train", "val")
    )

    network = dlib_gender(pretrained=True)
    inputs = keras.Input((IMG_SIZE, IMG_SIZE, 3))
    trainer = keras.Model(inputs, network(Augment(seed=config.seed, name="augment")(inputs)))
    steps = int(np.ceil(len(x_train) / config.batch_size)) * config.epochs
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, steps)
    trainer.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay),
        loss="sparse_categorical_crossentropy",
    )

    def val_accuracy() -> float:
        predicted = network.predict(x_val, batch_size=512, verbose=0).argmax(axis=1)
        return round(float(np.mean(predicted == y_val)), 4)

    accuracy, best = [val_accuracy()], network.get_weights()
    started = time.perf_counter()
    for _ in range(config.epochs):
        trainer.fit(x_train, y_train, batch_size=config.batch_size, epochs=1, shuffle=True, verbose=int(progress))
        accuracy.append(val_accuracy())
        if accuracy[-1] > max(accuracy[:-1]):
            best = network.get_weights()
    network.set_weights(best)
    kept = int(np.argmax(accuracy))  # the first of the best
    record = {
        **asdict(config),
        "train_faces": len(x_train),
        "val_faces": len(x_val),
        "val_accuracy_by_epoch": accuracy,
        "epoch_kept": kept,
        "seconds": round(time.perf_counter() - started),
    }
    return network, record
