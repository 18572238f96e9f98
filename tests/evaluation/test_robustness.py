"""faceage_lib.evaluation.robustness: corrupted copies of a split, through the detector and the model."""

from __future__ import annotations

import pandas as pd
import pytest

from faceage_lib.evaluation.robustness import CLEAN, evaluate_robustness, robustness_scores


def test_every_corruption_gives_a_full_table(utkface_dir, tiny_model_dir, tmp_path):
    tables, threshold = evaluate_robustness(
        utkface_dir["folder"], tiny_model_dir, "val", tmp_path, corruptions=["noise 16", "grayscale"]
    )
    assert list(tables) == [CLEAN, "noise 16", "grayscale"]
    clean = tables[CLEAN]
    for table in tables.values():
        assert len(table) == len(clean) > 0
        assert list(table["path"]) == list(clean["path"])
        assert {"pred_age", "age_low", "age_high", "p_female", "face_detected"} <= set(table.columns)
    assert not tables["noise 16"]["pred_age"].equals(clean["pred_age"])  # the model saw other pixels
    assert 0.5 <= threshold <= 1


def test_robustness_scores_on_known_predictions():
    table = pd.DataFrame(
        {
            "age": [20, 40, 60, 30],
            "gender": [0, 1, 1, 0],
            "race": pd.array([0, 1, 2, None]),
            "pred_age": [22.0, 44.0, 57.0, 30.0],
            "age_low": [18, 30, 61, 25],
            "age_high": [25, 50, 70, 35],
            "p_female": [0.1, 0.9, 0.6, 0.45],
            "face_detected": [True, True, False, True],
        }
    )
    scores = robustness_scores(table, gender_min_confidence=0.8)
    assert scores["coverage"] == 0.75
    assert scores["age_mae"] == pytest.approx(2.25) and scores["age_bias"] == pytest.approx(0.75)
    assert scores["gender_accuracy"] == 1.0
    assert scores["gender_uncertain_share"] == 0.5 and scores["gender_shown_accuracy"] == 1.0
    assert scores["age_interval_coverage"] == 0.75
