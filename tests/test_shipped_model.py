"""The model in models/: intact, within its size budget, calibrated.

Its recorded predictions, stage by stage, are checked in ``tests/golden/``.
"""

from faceage_lib.config import shipped_model_dir
from faceage_lib.inference.modelfiles import verified_model

CHECKOUT_MODEL_DIR = shipped_model_dir()

MAX_MODEL_BYTES = 25 * 1024 * 1024  # the .tflite, and the .keras to fine-tune from (an ensemble: two nets)
MAX_TFLITE_BYTES = 12 * 1024 * 1024  # issue 18's budget


def test_files_match_their_checksums():
    path, manifest = verified_model(CHECKOUT_MODEL_DIR)
    assert path.name == "model.tflite"
    assert manifest["input"]["shape"][1] == 64
    assert 0.5 < manifest["interval_mass"] < 1


def test_models_folder_fits_the_budget():
    total = sum(p.stat().st_size for p in CHECKOUT_MODEL_DIR.iterdir() if p.is_file())
    assert total <= MAX_MODEL_BYTES
    assert (CHECKOUT_MODEL_DIR / "model.tflite").stat().st_size <= MAX_TFLITE_BYTES


def test_calibrated_on_clean_and_corrupted_val():
    _, manifest = verified_model(CHECKOUT_MODEL_DIR)
    assert 0.5 < manifest["gender_min_confidence"] < 1  # an abstention threshold was chosen, not the default
    assert len(manifest["calibration"]["corruptions"]) == 8
    training = manifest["training"]
    members = training["ensemble"] if "ensemble" in training else [training]
    assert all(member["augment"] is True for member in members)
