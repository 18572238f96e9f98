"""faceage_lib.inference.modelfiles: checksums and the manifest, checked before loading."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from faceage_lib import config
from faceage_lib.errors import ModelFileError
from faceage_lib.inference import modelfiles
from faceage_lib.inference.estimator import AgeGenderEstimator

# --------------------------------------------------------------------------- model files and checksums


@pytest.fixture
def model_copy(tiny_model_dir, tmp_path):
    return shutil.copytree(tiny_model_dir, tmp_path / "model")


def test_checksums_pass(model_copy):
    path, manifest = modelfiles.verified_model(model_copy)
    assert path == model_copy / "model.tflite"
    assert manifest["input"]["shape"][1] == 32
    path, _ = modelfiles.verified_model(model_copy / "model.tflite")  # the file itself
    assert path == model_copy / "model.tflite"
    path, _ = modelfiles.verified_model(model_copy, "model.keras")
    assert path == model_copy / "model.keras"
    manifest_files = json.loads((model_copy / "manifest.json").read_text())["files"]
    assert manifest_files["model.tflite"]["sha256"] == modelfiles.sha256(model_copy / "model.tflite")
    assert manifest_files["model.tflite"]["bytes"] == (model_copy / "model.tflite").stat().st_size


def test_corrupted_file_is_rejected(model_copy):
    tflite = model_copy / "model.tflite"
    data = bytearray(tflite.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tflite.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="does not match its checksum"):
        AgeGenderEstimator(model_copy)


def test_a_file_is_hashed_once_until_it_changes(model_copy, tmp_path, monkeypatch):
    monkeypatch.delenv("FACEAGE_HOME", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    hashed = []
    real_sha256 = modelfiles.sha256
    monkeypatch.setattr(modelfiles, "sha256", lambda path: hashed.append(path) or real_sha256(path))
    modelfiles.verified_model(model_copy)
    modelfiles.verified_model(model_copy)
    assert hashed == [model_copy / "model.tflite"]  # the second start reads the cached digest
    tflite = model_copy / "model.tflite"
    data = bytearray(tflite.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tflite.write_bytes(bytes(data))  # the same size, another content
    with pytest.raises(ModelFileError, match="does not match its checksum"):
        modelfiles.verified_model(model_copy)
    assert len(hashed) == 2


def test_an_unusable_hash_cache_is_ignored(model_copy, tmp_path, monkeypatch):
    monkeypatch.delenv("FACEAGE_HOME", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    cache = tmp_path / "cache" / "faceage"
    cache.mkdir(parents=True)
    (cache / modelfiles.HASH_CACHE).write_text("[not json")
    assert modelfiles.verified_model(model_copy)[0] == model_copy / "model.tflite"
    shutil.rmtree(cache)
    cache.write_text("a file where the cache folder would be")  # cannot be written: verified all the same
    assert modelfiles.verified_model(model_copy)[0] == model_copy / "model.tflite"
    assert modelfiles.verified_model(model_copy)[0] == model_copy / "model.tflite"


def test_truncated_keras_file_is_rejected(model_copy):
    keras_file = model_copy / "model.keras"
    keras_file.write_bytes(keras_file.read_bytes()[:100])
    with pytest.raises(ModelFileError, match="does not match its checksum"):
        modelfiles.verified_model(model_copy, "model.keras")


def test_missing_file_is_rejected(model_copy):
    (model_copy / "model.tflite").unlink()
    with pytest.raises(ModelFileError, match="model.tflite is missing"):
        AgeGenderEstimator(model_copy)


def test_missing_manifest_is_rejected(model_copy):
    (model_copy / "manifest.json").unlink()
    with pytest.raises(ModelFileError, match="manifest.json is missing"):
        AgeGenderEstimator(model_copy)


def test_damaged_manifest_is_rejected(model_copy):
    (model_copy / "manifest.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="damaged"):
        AgeGenderEstimator(model_copy)


def _rewrite_manifest(model_copy, change) -> None:
    path = model_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def test_manifest_without_the_model_file_is_rejected(model_copy):
    _rewrite_manifest(model_copy, lambda m: m["files"].pop("model.tflite"))
    with pytest.raises(ModelFileError, match="does not list model.tflite"):
        AgeGenderEstimator(model_copy)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m.pop("schema_version"), "schema None; this faceage reads schema 3"),
        (lambda m: m.update(schema_version=2), "schema 2; this faceage reads schema 3"),
        (lambda m: m["input"].update(crop="faceage_lib.inference.crop.crop_face (RGB, eyes level)"), "not a crop spec"),
        (lambda m: m["input"]["crop"].update(version=99), "crops of version 99; this faceage cuts version 2"),
        (lambda m: m["input"]["crop"].update(align="tilted"), "is not valid"),
        (lambda m: m["input"]["crop"].pop("scale"), "is not valid"),
        (lambda m: m.pop("interval_mass"), "lacks 'interval_mass'"),
        (lambda m: m.pop("input"), "lacks 'input'"),
        (lambda m: m.update(interval_mass=1.5), "invalid 'interval_mass'"),
        (lambda m: m["input"].update(dtype="uint8"), "invalid 'input'"),
        (lambda m: m["input"].update(range=[0, 1]), "invalid 'input'"),
        (lambda m: m["input"].update(shape=[None, 32, 16, 3]), "invalid 'input'"),
        (lambda m: m["output"].update(p_female=3), "invalid 'output'"),
        (lambda m: m.update(p_under_18={"slope": "steep", "offset": 0}), "invalid 'p_under_18'"),
        (lambda m: m.update(p_under_18={"slope": float("nan"), "offset": 0}), "invalid 'p_under_18'"),
    ],
)
def test_manifest_schema_errors(model_copy, change, message):
    _rewrite_manifest(model_copy, change)
    with pytest.raises(ModelFileError, match=re.escape(message)):
        AgeGenderEstimator(model_copy)


def test_manifest_that_disagrees_with_the_model_file_is_rejected(model_copy):
    """A manifest edited to another input size (checksums still right) fails on the model's signature."""
    _rewrite_manifest(model_copy, lambda m: m["input"].update(shape=[None, 48, 48, 3]))
    with pytest.raises(ModelFileError, match="do not match"):
        AgeGenderEstimator(model_copy)


def test_not_a_model_folder(tmp_path):
    with pytest.raises(ModelFileError, match="not a faceage model folder"):
        AgeGenderEstimator(tmp_path)


def test_default_model_dir_from_environment(monkeypatch, model_copy):
    monkeypatch.setenv("FACEAGE_MODEL_DIR", str(model_copy))
    assert config.model_dir() == model_copy
    assert AgeGenderEstimator().img_size == 32
    monkeypatch.delenv("FACEAGE_MODEL_DIR")
    assert config.model_dir() != model_copy


def test_a_folder_without_manifest_never_falls_back_to_the_shipped_model(monkeypatch, tmp_path):
    (tmp_path / "model.tflite").write_bytes(b"whatever")
    monkeypatch.setenv("FACEAGE_MODEL_DIR", str(tmp_path))
    with pytest.raises(ModelFileError, match="manifest.json is missing"):
        AgeGenderEstimator()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelFileError, match="manifest.json is missing"):
        AgeGenderEstimator("")  # an empty path is the current folder, not "the default"
