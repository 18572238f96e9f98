"""The training configuration: one dataclass, from which ``faceage train`` generates its options.

Every knob of the recipe is a field, so the manifest of a trained model records all of it and
the model can be rebuilt from it. Importing it is cheap (no Keras), so the command line can build
its options and check them before any data or model is touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .backbones import BACKBONES


def _option(default, help: str, **extra):
    return field(default=default, metadata={"help": help, **extra})


@dataclass
class TrainConfig:
    """Everything that shapes a training run; each field is a ``faceage train`` option."""

    img_size: int = _option(64, "side of the square face crop the model sees, in pixels")
    crop_scale: float = _option(
        1.0,
        "side of the crop relative to the detector's face box (recorded in the "
        "model's manifest: inference cuts the same crop)",
    )
    backbone: str = _option("compact", "the network under the age and gender heads", choices=tuple(BACKBONES))
    pretrained: bool = _option(
        False, "start from pretrained weights: ImageNet (keras.applications backbones) or dlib's age network (resnet10)"
    )
    init_from: str | None = _option(
        None,
        "start from the weights of this model.keras (same backbone and size, or an ensemble holding one; "
        "default: random weights), e.g. to fine-tune the shipped model on more data",
    )
    width: int = _option(32, "filters in the first stage of the compact CNN")
    dropout: float = _option(0.25, "dropout before and after the shared dense layer")
    bn_momentum: float = _option(
        0.9,
        "momentum of the compact CNN's batch-norm statistics (Keras' 0.99 needs "
        "hundreds of steps to settle: a short run would validate on its start values)",
    )
    epochs: int = _option(120, "passes over the train split")
    batch_size: int = _option(256, "crops per training step")
    learning_rate: float = _option(2e-3, "peak of the one-cycle learning rate")
    warmup: float = _option(0.1, "share of the steps spent warming the learning rate up")
    warmup_start: float = _option(0.04, "learning rate at the start of the warm-up, as a share of the peak")
    final_lr: float = _option(1e-3, "learning rate at the end of the cosine decay, as a share of the peak")
    weight_decay: float = _option(0.05, "AdamW's decoupled weight decay")
    clip_norm: float = _option(1.0, "gradients are clipped to this norm")
    label_sigma: float = _option(2.0, "years: spread of the Gaussian label distribution around the true age")
    label_sigma_growth: float = _option(
        0.0, "years of spread added per year of true age (spread = label_sigma + growth x age): older faces vary more"
    )
    age_l1_weight: float = _option(0.1, "weight of the L1 loss on the expected age (the distribution's KL loss: 1)")
    gender_weight: float = _option(1.0, "weight of the gender loss (rows without a gender label add none)")
    age_balance: float = _option(
        0.0, "weigh each crop by (share of its 5-year age band) ** -age_balance: 0 none, 1 every band counts the same"
    )
    photo_weight: float = _option(
        1.0,
        "weight of a crop from a dataset of whole photos with real ages (e.g. APPA-REAL), against 1 for a UTKFace chip",
    )
    ema_decay: float = _option(0.999, "decay of the weight average that is validated and exported")
    ema_warmup: int = _option(10, "the average's decay at step t is min(ema_decay, (1 + t) / (ema_warmup + t))")
    val_batch_size: int = _option(512, "crops per step when validating")
    augment: bool = _option(True, "pose, light and capture-quality augmentation")
    mixed_precision: bool = _option(False, "bfloat16 compute with float32 weights")
    seed: int = _option(0, "seed of the weights, the shuffling and the augmentation")
    limit: int | None = _option(None, "train on at most this many images, for a quick try (default: all of them)")

    def crop(self):
        """The :class:`~faceage_lib.inference.crop.CropSpec` of this run's crops."""
        from ..inference.crop import CropSpec

        return CropSpec(self.img_size, self.crop_scale)

    def __post_init__(self):
        if self.backbone not in BACKBONES:
            raise ValueError(f"unknown backbone {self.backbone!r}; choose one of {', '.join(BACKBONES)}")
