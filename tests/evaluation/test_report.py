"""faceage_lib.evaluation.report: the report folder, and the one-line readings computed from the numbers."""

from __future__ import annotations

import json
import re
import shutil

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from faceage_lib.data.utkface import load_utkface  # noqa: E402
from faceage_lib.evaluation import report  # noqa: E402
from faceage_lib.evaluation.metrics import evaluate_predictions  # noqa: E402

TRAINING_LOG = """\
epoch,age_mae,age_probs_loss,gender_accuracy,learning_rate,loss,val_age_mae,val_gender_accuracy,val_loss
0,12.0,3.1,0.60,0.001,4.0,13.0,0.55,4.2
1,9.0,2.8,0.70,0.001,3.0,10.0,0.65,3.5
2,7.0,2.5,0.75,0.0005,2.0,10.5,0.70,3.4
"""
EVALUATION_PNGS = {
    "gender_confusion.png",
    "age_group_confusion.png",
    "mae_by_age_group.png",
    "predicted_vs_true.png",
    "fairness.png",
    "largest_errors.png",
}


@pytest.fixture(scope="module")
def model_with_log(tiny_model_dir, tmp_path_factory):
    """The tiny model folder plus a training log."""
    folder = tmp_path_factory.mktemp("model_with_log") / "model"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "training_log.csv").write_text(TRAINING_LOG)
    return folder


@pytest.fixture(scope="module")
def written(utkface_dir, model_with_log, tmp_path_factory):
    """One report written on the generated UTKFace folder: (report.md path, work dir)."""
    work = tmp_path_factory.mktemp("work")
    return report.write_report(utkface_dir["folder"], work / "report", model_with_log, work_dir=work), work


def test_write_report_writes_the_figures_metrics_and_predictions(written, utkface_dir):
    path, work = written
    out = path.parent
    assert path == work / "report" / "report.md"
    pngs = {p.name for p in out.glob("*.png")}
    assert pngs == EVALUATION_PNGS | {"training_curves.png"}
    for name in pngs:
        with Image.open(out / name) as image:
            assert image.format == "PNG" and min(image.size) > 200

    metrics = json.loads((out / "metrics.json").read_text())["utkface"]
    for key in (
        "n",
        "age_mae",
        "age_rmse",
        "cs5",
        "gender_accuracy",
        "by_age_group",
        "by_gender",
        "by_race",
        "images_per_second",
        "flip",
        "face_detected_share",
        "by_age_band",
        "age_thresholds",
    ):
        assert key in metrics
    # the same figures as faceage evaluate: the model's gender abstention included
    assert metrics["gender_min_confidence"] > 0 and metrics["gender_shown_accuracy"] is not None
    assert metrics["gender_uncertain_share"] is not None
    test_rows = load_utkface(utkface_dir["folder"], work).split("test")
    predictions = pd.read_csv(out / "predictions.csv", dtype={"hash": str})
    assert metrics["n"] == len(predictions) == len(test_rows) > 0
    assert set(predictions["hash"]) == set(test_rows["hash"])
    assert {"pred_age", "age_low", "age_high", "p_female", "face_detected"} <= set(predictions.columns)
    assert metrics["by_age_group"]["80+"]["n"] == int((test_rows["age"] >= 80).sum())
    assert metrics["flip"] is False


def test_report_md_shows_every_png_with_a_reading_under_it(written):
    path, _ = written
    text = path.read_text()
    shown = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert sorted(shown) == sorted({p.name for p in path.parent.glob("*.png")})
    lines = text.splitlines()
    for name in shown:
        at = next(i for i, line in enumerate(lines) if line.endswith(f"({name})"))
        assert lines[at + 1] == "" and len(lines[at + 2]) > 20 and not lines[at + 2].startswith(("#", "!"))
    metrics = json.loads((path.parent / "metrics.json").read_text())["utkface"]
    assert report.describe_age_groups(metrics) in text
    assert report.describe_fairness(metrics) in text
    assert "Validation age MAE was best at epoch 2 (10.00 years; 3 epochs logged)" in text
    assert f"images             {metrics['n']}" in text


def test_training_curves_only_when_the_model_folder_has_a_usable_log(tiny_model_dir, model_with_log, tmp_path):
    assert report.training_sections(tiny_model_dir) == []
    [section] = report.training_sections(model_with_log)
    assert section.file == "training_curves.png" and len(section.figure.axes) == 3
    assert report.training_sections(model_with_log / "model.tflite")  # the model file's folder is searched
    empty = tmp_path / "model"
    shutil.copytree(tiny_model_dir, empty)
    (empty / "training_log.csv").write_text("")  # training has just started
    assert report.training_sections(empty) == []


# --------------------------------------------------------------------------- readings


@pytest.fixture
def predictions() -> pd.DataFrame:
    """Age errors 1, 0, 8, 2, -3, -10, -5, -29; three gender mistakes; one face not detected."""
    return pd.DataFrame(
        {
            "path": [f"{i}.png" for i in range(8)],
            "age": [1, 4, 7, 23, 23, 50, 85, 99],
            "gender": [0, 1, 1, 0, 1, 1, 0, 0],
            "race": pd.array([0, 1, None, 2, 2, 3, 4, 0], dtype="Int64"),
            "pred_age": [2.0, 4.0, 15.0, 25.0, 20.0, 40.0, 80.0, 70.0],
            "p_female": [0.1, 0.9, 0.2, 0.6, 0.8, 0.7, 0.3, 0.55],
            "face_detected": [True, True, True, True, True, True, True, False],
        }
    )


def group(n, mae, accuracy=0.9):
    return {"n": n, "age_mae": mae, "age_rmse": None, "cs5": None, "gender_accuracy": accuracy}


def test_describe_age_groups_names_the_best_and_worst_group_with_images():
    metrics = {
        "by_age_group": {
            "0-2": group(0, None),
            "10-19": group(300, 5.0),
            "20-29": group(1400, 4.1),
            "80+": group(120, 9.8),
        }
    }
    assert report.describe_age_groups(metrics) == (
        "MAE is lowest for 20-29 (4.1 years, n=1400) and highest for 80+ (9.8 years, n=120)."
    )


def test_describe_fairness(predictions):
    assert report.describe_fairness(evaluate_predictions(predictions)) == (
        "Across races, MAE runs from 0.0 (Black, n=1) to 15.0 (White, n=2) and gender accuracy from "
        "0.0% (unknown) to 100.0% (Black); male: MAE 9.2, gender accuracy 50.0%; "
        "female: MAE 5.2, gender accuracy 75.0%."
    )


def test_groups_too_small_to_say_anything_are_left_out():
    races = {"White": group(2030, 5.9), "Black": group(870, 6.0), "Asian": group(680, 3.9), "unknown": group(2, 7.9)}
    for row, accuracy in zip(races.values(), (0.92, 0.93, 0.87, 0.5)):
        row["gender_accuracy"] = accuracy
    genders = {
        "male": {**group(2400, 5.6), "gender_accuracy": 0.93},
        "female": {**group(2200, 5.2), "gender_accuracy": 0.89},
    }
    line = report.describe_fairness({"by_race": races, "by_gender": genders})
    assert "unknown" not in line
    assert line.startswith("Across races, MAE runs from 3.9 (Asian, n=680) to 6.0 (Black, n=870)")
    assert "gender accuracy from 87.0% (Asian) to 93.0% (Black)" in line


def test_describe_gender_confusion(predictions):
    assert report.describe_gender_confusion(predictions) == (
        "Gender is right for 62.5% of 8 test images; 2 of 4 men were read as women and 1 of 4 women as men."
    )


def test_describe_age_group_confusion(predictions):
    # exact group: 1->2, 4->4, 23->25, 23->20, 85->80; one group off: 7->15, 50->40, 99->70
    assert report.describe_age_group_confusion(predictions.drop(index=[6])) == (
        "The predicted age group is the true one for 57% of images and at most one group off for 100%; "
        "most often right for 0-2 (100%), least for 50-59 (0%)."
    )


def test_describe_predicted_vs_true(predictions):
    assert report.describe_predicted_vs_true(predictions, evaluate_predictions(predictions)) == (
        "Predictions are 4.5 years too low on average; MAE 7.2, RMSE 11.4 years, 62% within 5 years (CS@5)."
    )


def test_describe_largest_errors(predictions):
    assert report.describe_largest_errors(predictions, 3) == (
        "The 3 largest errors are 8 to 29 years (1 over-, 2 under-estimates); "
        "no face was detected on 1 (whole-image crop)."
    )


def test_describe_training_without_validation_mae():
    assert report.describe_training(pd.DataFrame({"loss": [2.0, 1.0]})) == (
        "2 epochs logged; the log has no validation age MAE."
    )
