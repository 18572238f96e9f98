"""The Keras multi-task model: a shared backbone, an age-distribution head and a gender head.

The age head is a softmax over every age 0..MAX_AGE. It is trained with DLDL-v2: a KL loss
against a Gaussian around the true age plus an L1 loss on the distribution's expected value.
The expected value is the age; the distribution's quantiles give an age range for free.
"""

from __future__ import annotations

from .backend import keras  # noqa: I001  (first: Keras imported quietly)
from keras import layers, ops

from ..config import MAX_AGE
from .config import BACKBONES

AGE_BINS = MAX_AGE + 1  # ages 0..116
LABEL_SIGMA = 2.0  # years: spread of the Gaussian label distribution


def build_model(img_size: int = 64, backbone: str = "compact", pretrained: bool = False,
                width: int = 32, dropout: float = 0.25) -> keras.Model:
    """Inputs: RGB crops as float32 in [0, 255]. Outputs: ``age_probs``, ``age``, ``gender``."""
    inputs = keras.Input((img_size, img_size, 3), name="crop")
    features = _backbone(inputs, backbone, pretrained, width)
    features = layers.Dropout(dropout)(features)
    shared = layers.Dense(256, activation="relu", name="shared_dense")(features)
    shared = layers.Dropout(dropout)(shared)
    age_probs = layers.Dense(AGE_BINS, activation="softmax", name="age_probs", dtype="float32")(shared)
    age = ExpectedAge(name="age")(age_probs)
    gender = layers.Dense(1, activation="sigmoid", name="gender", dtype="float32")(shared)
    return keras.Model(inputs, {"age_probs": age_probs, "age": age, "gender": gender}, name=f"faceage_{backbone}")


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
def age_distribution_loss(y_true, y_pred):
    """KL divergence from a Gaussian label distribution centred on the true age."""
    ages = ops.arange(AGE_BINS, dtype="float32")
    centre = ops.reshape(ops.cast(y_true, "float32"), (-1, 1))
    target = ops.exp(-0.5 * ops.square((ages - centre) / LABEL_SIGMA))
    target = target / ops.sum(target, axis=-1, keepdims=True)
    return keras.losses.kl_divergence(target, y_pred)


def compile_model(model: keras.Model, learning_rate, weight_decay: float = 1e-4) -> keras.Model:
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay, clipnorm=1.0),
        loss={"age_probs": age_distribution_loss, "age": "mae", "gender": "binary_crossentropy"},
        loss_weights={"age_probs": 1.0, "age": 0.1, "gender": 1.0},
        metrics={"age": ["mae"], "gender": [keras.metrics.BinaryAccuracy(name="accuracy")]},
        jit_compile="auto",  # XLA where the backend supports every layer (JAX); TensorFlow falls back
    )
    return model


def _backbone(inputs, name: str, pretrained: bool, width: int):
    if name == "compact":
        return _compact_cnn(inputs, width)
    weights = "imagenet" if pretrained else None
    apps = keras.applications
    if name == "mobilenetv3small":
        base = apps.MobileNetV3Small(input_tensor=inputs, include_top=False, weights=weights, pooling="avg")
    elif name == "mobilenetv3large":
        base = apps.MobileNetV3Large(input_tensor=inputs, include_top=False, weights=weights, pooling="avg")
    elif name == "efficientnetb0":
        base = apps.EfficientNetB0(input_tensor=inputs, include_top=False, weights=weights, pooling="avg")
    else:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    return base.output  # these applications rescale [0, 255] inputs themselves


#: 3x3 convolutions per stage of the compact CNN. Measured on 2 CPU cores at 64x64, two
#: convolutions in the early, high-resolution stages cost 2-3x the training time for little gain.
COMPACT_CONVS = (1, 1, 1, 2)


def _compact_cnn(inputs, width: int):
    """A VGG-style CNN sized for a CPU: four stages of 3x3 conv + BN + ReLU, max-pooled between."""
    x = layers.Rescaling(1 / 255.0)(inputs)
    for stage, filters in enumerate((width, width * 2, width * 4, width * 8)):
        for conv in range(COMPACT_CONVS[stage]):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{stage}_{conv}")(x)
            x = layers.BatchNormalization(name=f"bn{stage}_{conv}")(x)
            x = layers.ReLU()(x)
        if stage < 3:
            x = layers.MaxPooling2D()(x)
    return layers.GlobalAveragePooling2D()(x)


def load_keras_model(path) -> keras.Model:
    """Load a ``.keras`` file saved by faceage (its custom layer and loss are registered here)."""
    return keras.saving.load_model(path, compile=False)
