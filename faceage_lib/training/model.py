"""The Keras multi-task model: a shared backbone, an age-distribution head and a gender head.

The age head is a softmax over every age 0..MAX_AGE. It is trained with DLDL-v2: a KL loss
against a Gaussian around the true age plus an L1 loss on the distribution's expected value.
The expected value is the age; the distribution's quantiles give an age range for free.
"""

from __future__ import annotations

from .backend import keras  # noqa: I001  (first: Keras imported quietly)
import numpy as np
from keras import layers, ops

from ..config import MAX_AGE
from . import dlib_resnet  # noqa: F401  (registers its layers, which load_keras_model needs)
from .backbones import BACKBONES
from .config import TrainConfig

AGE_BINS = MAX_AGE + 1  # ages 0..116
#: The gender target of a crop whose gender is not known: it adds no gender loss.
UNKNOWN_GENDER = -1.0


def build_model(
    img_size: int = 64,
    backbone: str = "compact",
    pretrained: bool = False,
    width: int = 32,
    dropout: float = 0.25,
    bn_momentum: float = 0.9,
) -> keras.Model:
    """Inputs: RGB crops as float32 in [0, 255]. Outputs: ``age_probs``, ``age``, ``gender``."""
    if backbone not in BACKBONES:
        raise ValueError(f"unknown backbone {backbone!r}; choose one of {', '.join(BACKBONES)}")
    inputs = keras.Input((img_size, img_size, 3), name="crop")
    features = BACKBONES[backbone](inputs, width=width, pretrained=pretrained, bn_momentum=bn_momentum)
    features = layers.Dropout(dropout)(features)
    shared = layers.Dense(256, activation="relu", name="shared_dense")(features)
    shared = layers.Dropout(dropout)(shared)
    age_probs = layers.Dense(AGE_BINS, activation="softmax", name="age_probs", dtype="float32")(shared)
    age = ExpectedAge(name="age")(age_probs)
    gender = layers.Dense(1, activation="sigmoid", name="gender", dtype="float32")(shared)
    return keras.Model(inputs, {"age_probs": age_probs, "age": age, "gender": gender}, name=f"faceage_{backbone}")


def build_from_config(config: TrainConfig) -> keras.Model:
    """The model a run of ``config`` trains, with the weights of ``config.init_from`` if it names one."""
    model = build_model(
        config.img_size, config.backbone, config.pretrained, config.width, config.dropout, config.bn_momentum
    )
    if config.init_from:
        start = load_keras_model(config.init_from)
        members = [layer for layer in start.layers if isinstance(layer, keras.Model)]  # an ensemble's models
        shapes = [w.shape for w in model.weights]
        fitting = [candidate for candidate in (start, *members) if [w.shape for w in candidate.weights] == shapes]
        if not fitting:
            raise ValueError(
                f"{config.init_from} is not a {config.backbone} model of {config.img_size} px "
                f"(width {config.width}), nor an ensemble holding one: its weights do not fit"
            )
        model.set_weights(fitting[0].get_weights())
    return model


def set_age_prior(model: keras.Model, ages) -> None:
    """Start the age head at the training ages' distribution (its bias: the log of their histogram,
    1% of it spread over every age), so an untrained model answers as a constant predictor would, not
    with the middle of 0..116; the first steps then improve on that instead of climbing down to it."""
    ages = np.clip(np.asarray(ages, int), 0, MAX_AGE)
    counts = np.bincount(ages, minlength=AGE_BINS) + 0.01 * len(ages) / AGE_BINS
    layer = model.get_layer("age_probs")
    kernel, _ = layer.get_weights()
    layer.set_weights([kernel, np.log(counts / counts.sum()).astype(np.float32)])


def inference_model(model: keras.Model) -> keras.Model:
    """One output of shape (N, AGE_BINS + 1): the age distribution, then P(female)."""
    outputs = model(model.inputs[0])
    joined = layers.Concatenate(name="age_probs_and_p_female")([outputs["age_probs"], outputs["gender"]])
    return keras.Model(model.inputs[0], joined, name="faceage_inference")


@keras.saving.register_keras_serializable("faceage")
class ExpectedAge(layers.Layer):
    """The mean of an age distribution over 0..MAX_AGE, shape (N, 1)."""

    def call(self, probs):
        ages = ops.arange(AGE_BINS, dtype=probs.dtype)
        return ops.sum(probs * ages, axis=-1, keepdims=True)


@keras.saving.register_keras_serializable("faceage")
class WeightedMean(layers.Layer):
    """The ``weights``-average of same-shaped inputs (an ensemble's distributions or probabilities)."""

    def __init__(self, weights: list[float], **kwargs):
        super().__init__(**kwargs)
        self.mix = [float(weight) for weight in weights]

    def call(self, inputs):
        total = sum(self.mix)
        return sum(tensor * (weight / total) for tensor, weight in zip(inputs, self.mix))

    def get_config(self) -> dict:
        return {**super().get_config(), "weights": self.mix}


def age_distribution_loss(y_true, y_pred, sigma: float = 2.0, growth: float = 0.0):
    """KL divergence from a Gaussian label distribution centred on the true age, of spread
    ``sigma + growth x age`` years (a growth > 0 widens it with age, as faces of one age vary more
    with the years)."""
    ages = ops.arange(AGE_BINS, dtype="float32")
    centre = ops.reshape(ops.cast(y_true, "float32"), (-1, 1))
    spread = sigma + growth * centre
    target = ops.exp(-0.5 * ops.square((ages - centre) / spread))
    target = target / ops.sum(target, axis=-1, keepdims=True)
    return keras.losses.kl_divergence(target, y_pred)


@keras.saving.register_keras_serializable("faceage")
class AgeDistributionLoss(keras.losses.Loss):
    """:func:`age_distribution_loss` with its ``sigma`` and ``growth`` as settings."""

    def __init__(self, sigma: float = 2.0, growth: float = 0.0, name: str = "age_distribution", **kwargs):
        super().__init__(name=name, **kwargs)
        self.sigma, self.growth = sigma, growth

    def call(self, y_true, y_pred):
        return age_distribution_loss(y_true, y_pred, self.sigma, self.growth)

    def get_config(self) -> dict:
        return {**super().get_config(), "sigma": self.sigma, "growth": self.growth}


@keras.saving.register_keras_serializable("faceage")
def masked_binary_crossentropy(y_true, y_pred):
    """Binary cross-entropy where the gender is known (target 0 or 1); a target of
    :data:`UNKNOWN_GENDER` adds nothing, so rows without a gender label move no gender weight."""
    y_true = ops.reshape(ops.cast(y_true, "float32"), (-1, 1))
    known = ops.cast(y_true[:, 0] >= 0, "float32")
    return keras.losses.binary_crossentropy(ops.maximum(y_true, 0.0), y_pred) * known


@keras.saving.register_keras_serializable("faceage")
class KnownGenderAccuracy(keras.metrics.Mean):
    """Gender accuracy over the crops whose gender is known."""

    def __init__(self, name: str = "accuracy", **kwargs):
        super().__init__(name=name, **kwargs)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = ops.reshape(ops.cast(y_true, "float32"), (-1,)), ops.reshape(y_pred, (-1,))
        right = ops.cast((y_pred >= 0.5) == (y_true >= 0.5), "float32")
        return super().update_state(right, sample_weight=ops.cast(y_true >= 0, "float32"))


def compile_model(model: keras.Model, learning_rate, config: TrainConfig | None = None) -> keras.Model:
    """AdamW and the three losses, weighted as ``config`` says (default: :class:`TrainConfig`'s)."""
    config = config or TrainConfig()
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate, weight_decay=config.weight_decay, clipnorm=config.clip_norm),
        loss={
            "age_probs": AgeDistributionLoss(config.label_sigma, config.label_sigma_growth),
            "age": "mae",
            "gender": masked_binary_crossentropy,
        },
        loss_weights={"age_probs": 1.0, "age": config.age_l1_weight, "gender": config.gender_weight},
        metrics={"age": ["mae"], "gender": [KnownGenderAccuracy()]},
        jit_compile="auto",  # XLA where the backend supports every layer (JAX); TensorFlow falls back
    )
    return model


def load_keras_model(path) -> keras.Model:
    """Load a ``.keras`` file saved by faceage (its custom layer and loss are registered here)."""
    return keras.saving.load_model(path, compile=False)
