"""The model in models/: intact, within its size budget, and giving its recorded predictions.

The golden values were recorded from the shipped model when it was trained. A change to the
image loading, the detector, the crop or the model file shows up here as a different number.
"""

import numpy as np
import pytest
from skimage import data as skdata

from faceage_lib import Predictor
from faceage_lib.config import shipped_model_dir
from faceage_lib.inference.modelfiles import verified_model

CHECKOUT_MODEL_DIR = shipped_model_dir()

MAX_MODEL_BYTES = 15 * 1024 * 1024
MAX_TFLITE_BYTES = 5 * 1024 * 1024
GOLDEN_ASTRONAUT = {"box": (178, 81, 272, 175), "age": 34.8, "age_low": 27.0, "age_high": 43.0,
                    "gender": "female", "gender_prob": 0.9883}


@pytest.fixture(scope="module")
def predictor():
    return Predictor(CHECKOUT_MODEL_DIR)


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
    assert manifest["training"]["augment"] is True


def test_golden_prediction_on_the_astronaut(predictor):
    (face,) = predictor.predict(skdata.astronaut())
    np.testing.assert_allclose(face.box, GOLDEN_ASTRONAUT["box"], atol=1)
    assert face.age == pytest.approx(GOLDEN_ASTRONAUT["age"], abs=0.15)
    assert (face.age_low, face.age_high) == (GOLDEN_ASTRONAUT["age_low"], GOLDEN_ASTRONAUT["age_high"])
    assert face.gender == GOLDEN_ASTRONAUT["gender"]
    assert face.gender_prob == pytest.approx(GOLDEN_ASTRONAUT["gender_prob"], abs=0.005)
