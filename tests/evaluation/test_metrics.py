"""faceage_lib.evaluation.metrics on hand-made predictions with hand-computed figures."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from faceage_lib.config import AGE_GROUP_LABELS
from faceage_lib.evaluation import metrics
from faceage_lib.evaluation.metrics import age_group_confusion, age_scores, evaluate_predictions, gender_scores


@pytest.fixture
def table() -> pd.DataFrame:
    """Four test images.

    age errors 2, 0, 7, 0          -> MAE 9/4 = 2.25, RMSE sqrt(53/4), CS@5 3/4
    gender (1 = female) 0, 1, 1, 0 ; p_female 0.2, 0.9, 0.4, 0.1 -> predicted 0, 1, 0, 0
        accuracy 3/4; female precision 1/1, recall 1/2, F1 2/3
    ranges [8, 14] [15, 25] [31, 40] [35, 45] -> hold 10, 20, 40 but not 30: coverage 3/4, mean width 35/4
    """
    frame = pd.DataFrame(
        {
            "age": [10, 20, 30, 40],
            "gender": [0, 1, 1, 0],
            "race": [0, 1, None, 0],
            "pred_age": [12.0, 20.0, 37.0, 40.0],
            "p_female": [0.2, 0.9, 0.4, 0.1],
            "age_low": [8.0, 15.0, 31.0, 35.0],
            "age_high": [14.0, 25.0, 40.0, 45.0],
        }
    )
    frame["race"] = frame["race"].astype("Int64")
    return frame


def test_overall_figures(table):
    result = evaluate_predictions(table)
    assert result["n"] == 4
    assert result["age_mae"] == pytest.approx(2.25)
    assert result["age_rmse"] == pytest.approx(math.sqrt(53 / 4))
    assert result["cs5"] == pytest.approx(0.75)
    assert result["gender_accuracy"] == pytest.approx(0.75)
    assert result["gender_precision"] == pytest.approx(1.0)
    assert result["gender_recall"] == pytest.approx(0.5)
    assert result["gender_f1"] == pytest.approx(2 / 3)
    assert result["age_interval_coverage"] == pytest.approx(0.75)
    assert result["age_interval_mean_width"] == pytest.approx(8.75)


def test_per_age_group(table):
    groups = evaluate_predictions(table)["by_age_group"]
    assert list(groups) == list(AGE_GROUP_LABELS)
    assert groups["10-19"] == {
        "n": 1,
        "age_mae": 2.0,
        "age_bias": 2.0,
        "age_rmse": 2.0,
        "cs5": 1.0,
        "gender_accuracy": 1.0,
    }
    assert groups["20-29"] == {
        "n": 1,
        "age_mae": 0.0,
        "age_bias": 0.0,
        "age_rmse": 0.0,
        "cs5": 1.0,
        "gender_accuracy": 1.0,
    }
    assert groups["30-39"] == {
        "n": 1,
        "age_mae": 7.0,
        "age_bias": 7.0,
        "age_rmse": 7.0,
        "cs5": 0.0,
        "gender_accuracy": 0.0,
    }
    assert groups["40-49"]["n"] == 1 and groups["40-49"]["age_mae"] == 0.0
    for empty in ("0-2", "3-9", "50-59", "80+"):
        assert groups[empty] == {
            "n": 0,
            "age_mae": None,
            "age_bias": None,
            "age_rmse": None,
            "cs5": None,
            "gender_accuracy": None,
        }


def test_per_gender(table):
    by_gender = evaluate_predictions(table)["by_gender"]
    assert set(by_gender) == {"male", "female"}
    male, female = by_gender["male"], by_gender["female"]
    assert male["n"] == 2 and male["age_mae"] == pytest.approx(1.0) and male["gender_accuracy"] == 1.0
    assert male["age_rmse"] == pytest.approx(math.sqrt(2))
    assert female["n"] == 2 and female["age_mae"] == pytest.approx(3.5) and female["gender_accuracy"] == 0.5
    assert female["cs5"] == 0.5


def test_per_race(table):
    by_race = evaluate_predictions(table)["by_race"]
    assert list(by_race) == ["White", "Black", "Asian", "Indian", "Others", "unknown"]
    assert by_race["White"]["n"] == 2 and by_race["White"]["age_mae"] == pytest.approx(1.0)
    assert by_race["Black"]["n"] == 1 and by_race["Black"]["age_mae"] == 0.0
    assert by_race["unknown"]["n"] == 1 and by_race["unknown"]["age_mae"] == 7.0
    assert by_race["Asian"]["n"] == 0 and by_race["Asian"]["age_mae"] is None


def test_no_unknown_race_group_when_every_race_is_known(table):
    known = table.assign(race=pd.array([0, 1, 4, 0], dtype="Int64"))
    by_race = evaluate_predictions(known)["by_race"]
    assert "unknown" not in by_race
    assert by_race["Others"]["n"] == 1


def test_without_age_ranges(table):
    result = evaluate_predictions(table.drop(columns=["age_low", "age_high"]))
    assert "age_interval_coverage" not in result
    assert result["age_mae"] == pytest.approx(2.25)


def test_gender_threshold_and_edge_cases():
    # p_female exactly 0.5 counts as female
    assert gender_scores([1], [0.5])["gender_accuracy"] == 1.0
    # no female predicted and none true: precision and recall are 0, F1 0, accuracy 1
    scores = gender_scores([0, 0], [0.1, 0.2])
    assert scores == {"gender_accuracy": 1.0, "gender_precision": 0.0, "gender_recall": 0.0, "gender_f1": 0.0}
    # everything predicted female, half truly female
    scores = gender_scores([1, 0, 1, 0], [0.9, 0.9, 0.9, 0.9])
    assert scores["gender_precision"] == 0.5 and scores["gender_recall"] == 1.0
    assert scores["gender_f1"] == pytest.approx(2 / 3)


def test_age_scores_edge_cases():
    assert age_scores([], []) == {"n": 0, "age_mae": None, "age_bias": None, "age_rmse": None, "cs5": None}
    scores = age_scores([30, 30], [35, 24.9])  # an error of exactly 5 counts, 5.1 does not
    assert scores["cs5"] == 0.5
    assert scores["age_mae"] == pytest.approx(5.05)
    assert scores["age_bias"] == pytest.approx(-0.05)
    assert scores["age_rmse"] == pytest.approx(math.sqrt((25 + 5.1**2) / 2))


def test_empty_table():
    empty = pd.DataFrame(
        {
            "age": [],
            "gender": [],
            "race": pd.array([], dtype="Int64"),
            "pred_age": [],
            "p_female": [],
            "age_low": [],
            "age_high": [],
        }
    )
    result = evaluate_predictions(empty)
    assert result["n"] == 0 and result["age_mae"] is None and result["gender_accuracy"] is None
    assert result["age_interval_coverage"] is None


def test_age_group_confusion():
    true = [1, 5, 25, 85, 30, 26]
    pred = [2, 12, 27, 60, -3, 29.9]
    confusion = age_group_confusion(true, pred)
    assert list(confusion.index) == list(AGE_GROUP_LABELS)
    assert list(confusion.columns) == list(AGE_GROUP_LABELS)
    assert confusion.index.name == "true" and confusion.columns.name == "predicted"
    assert int(confusion.to_numpy().sum()) == 6
    expected = pd.DataFrame(0, index=AGE_GROUP_LABELS, columns=AGE_GROUP_LABELS)
    expected.loc["0-2", "0-2"] = 1
    expected.loc["3-9", "10-19"] = 1
    expected.loc["20-29", "20-29"] = 2
    expected.loc["80+", "60-69"] = 1
    expected.loc["30-39", "0-2"] = 1  # a negative prediction counts as the youngest group
    np.testing.assert_array_equal(confusion.to_numpy(), expected.to_numpy())


def test_age_group_confusion_diagonal_for_perfect_predictions():
    ages = np.array([1, 4, 12, 22, 33, 44, 55, 66, 77, 88])
    confusion = age_group_confusion(ages, ages.astype(float))
    np.testing.assert_array_equal(confusion.to_numpy(), np.eye(10, dtype=int))


def test_shown_gender_scores():
    from faceage_lib.evaluation.metrics import shown_gender_scores

    # confidences 0.95, 0.9, 0.6, 0.55: the last two are held back at 0.8; of the shown, one is wrong
    scores = shown_gender_scores([1, 0, 1, 0], [0.95, 0.9, 0.6, 0.45], 0.8)
    assert scores == {"gender_shown_accuracy": 0.5, "gender_uncertain_share": 0.5}
    assert shown_gender_scores([1], [0.6], 0.8) == {"gender_shown_accuracy": None, "gender_uncertain_share": 1.0}


def test_age_thresholds_on_hand_made_predictions():
    """Under 18: 5 -> 19 (over), 12 -> 12, 17 -> 18 (over), 15 -> 13; adults 25+: 30 -> 17 (under 18),
    40 -> 40, 60 -> 15 (under 16 and 18), 26 -> 12 (under 13, 16 and 18)."""
    true = [5, 12, 17, 15, 30, 40, 60, 26]
    pred = [19, 12, 18, 13, 17, 40, 15, 12]
    scores = metrics.age_threshold_scores(true, pred)
    assert scores["under_18_called_over"] == pytest.approx(2 / 4)
    assert scores["under_16_called_over"] == pytest.approx(1 / 3)  # 5, 12, 15 are under 16; only 5 -> 19
    assert scores["under_13_called_over"] == pytest.approx(1 / 2)  # 5 and 12; 5 -> 19
    assert scores["adults_called_under_18"] == pytest.approx(3 / 4)
    assert scores["adults_called_under_16"] == pytest.approx(2 / 4)
    assert scores["adults_called_under_13"] == pytest.approx(1 / 4)
    assert metrics.age_threshold_scores([40], [40])["under_18_called_over"] is None  # nobody under 18


def test_challenge_at_each_age_on_hand_made_predictions():
    """Minors 12 -> 16, 16 -> 22, 17 -> 26 (two pass at 18, one at 25, none at 30); adults 19 -> 17
    (challenged at every age), 30 -> 28 (from 30 on), 45 -> 44."""
    scores = metrics.challenge_scores([12, 16, 17, 19, 30, 45], [16, 22, 26, 17, 28, 44])
    assert list(scores) == ["18", "21", "25", "30"]
    assert scores["18"] == {"minors_pass": pytest.approx(2 / 3), "adults_challenged": pytest.approx(1 / 3)}
    assert scores["25"] == {"minors_pass": pytest.approx(1 / 3), "adults_challenged": pytest.approx(1 / 3)}
    assert scores["30"] == {"minors_pass": 0.0, "adults_challenged": pytest.approx(2 / 3)}
    assert metrics.challenge_scores([40], [40])["21"]["minors_pass"] is None  # nobody under 18


def test_p_under_18_reliability_in_the_report(table):
    table = table.assign(p_under_18=np.where(table["age"] < 18, 0.85, 0.05))
    result = evaluate_predictions(table)
    assert sum(row["faces"] for row in result["p_under_18_reliability"]) == len(table)
    assert result["p_under_18_brier"] == pytest.approx(np.mean(np.where(table["age"] < 18, 0.15**2, 0.05**2)))
    assert "p_under_18_reliability" not in evaluate_predictions(table.drop(columns="p_under_18"))


def test_reliability_table_counts_each_tenth():
    table = metrics.reliability_table(np.array([0.05, 0.05, 0.31, 0.39, 0.95]), np.array([0, 1, 1, 0, 1]))
    assert [row["bin"] for row in table] == ["0.0-0.1", "0.3-0.4", "0.9-1.0"]
    assert [row["faces"] for row in table] == [2, 2, 1]
    assert table[1] == {"bin": "0.3-0.4", "faces": 2, "mean_p": 0.35, "share_true": 0.5}


def test_bias_per_age_band(table):
    bands = evaluate_predictions(table)["by_age_band"]
    assert list(bands) == list(metrics.BIAS_BAND_LABELS)
    assert bands["10-14"]["age_bias"] == 2.0 and bands["30-39"]["age_bias"] == 7.0
    assert bands["15-19"]["n"] == 0 and bands["15-19"]["age_bias"] is None
    assert metrics.age_band([2, 3, 14, 15, 59, 60, 99]).tolist() == [
        "0-2",
        "3-9",
        "10-14",
        "15-19",
        "50-59",
        "60+",
        "60+",
    ]


def test_rows_without_gender_count_for_age_only(table):
    unknown = table.assign(gender=pd.array([0, None, None, 0], dtype="Int64"))
    result = evaluate_predictions(unknown, gender_min_confidence=0.7)
    assert result["n"] == 4 and result["age_mae"] == pytest.approx(2.25)
    assert result["gender_labelled"] == 2
    assert result["gender_accuracy"] == pytest.approx(1.0)  # 0.2 and 0.1: both male, both right
    assert result["gender_shown_accuracy"] == pytest.approx(1.0) and result["gender_uncertain_share"] == 0.0
    assert result["by_gender"]["female"]["n"] == 0
