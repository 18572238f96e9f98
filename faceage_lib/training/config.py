"""The training configuration: one dataclass, from which ``faceage train`` generates its options.

Importing it is cheap (no Keras), so the command line can build its options and check them
before any data or model is touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: The networks under the two heads: a compact CNN sized for a CPU, or keras.applications models.
BACKBONES = ("compact", "mobilenetv3small", "mobilenetv3large", "efficientnetb0")


def _option(default, help: str, **extra):
    return field(default=default, metadata={"help": help, **extra})


@dataclass
class TrainConfig:
    """Everything that shapes a training run; each field is a ``faceage train`` option."""

    img_size: int = _option(64, "side of the square face crop the model sees, in pixels")
    backbone: str = _option("compact", "the network under the age and gender heads", choices=BACKBONES)
    pretrained: bool = _option(False, "start from ImageNet weights (keras.applications backbones only)")
    width: int = _option(32, "filters in the first stage of the compact CNN")
    epochs: int = _option(120, "passes over the train split")
    batch_size: int = _option(256, "crops per training step")
    learning_rate: float = _option(2e-3, "peak of the one-cycle learning rate")
    warmup: float = _option(0.1, "share of the steps spent warming the learning rate up")
    weight_decay: float = _option(0.05, "AdamW's decoupled weight decay")
    ema_decay: float = _option(0.999, "decay of the weight average that is validated and exported")
    augment: bool = _option(True, "pose, light and capture-quality augmentation")
    mixed_precision: bool = _option(False, "bfloat16 compute with float32 weights")
    seed: int = _option(0, "seed of the weights, the shuffling and the augmentation")
    limit: int | None = _option(None, "train on at most this many images, for a quick try (default: all of them)")

    def __post_init__(self):
        if self.backbone not in BACKBONES:
            raise ValueError(f"unknown backbone {self.backbone!r}; choose one of {', '.join(BACKBONES)}")
