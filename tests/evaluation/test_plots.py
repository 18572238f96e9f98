"""What each figure of faceage_lib.evaluation.plots draws, read back from the figure's artists."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

from faceage_lib.config import AGE_GROUP_LABELS, GENDERS  # noqa: E402
from faceage_lib.evaluation import plots  # noqa: E402
from faceage_lib.evaluation.metrics import evaluate_predictions  # noqa: E402


@pytest.fixture
def labels(tmp_path) -> pd.DataFrame:
    """Eight labelled images on disk, one without a race."""
    ages = [1, 4, 7, 23, 23, 50, 85, 99]
    paths = []
    for i in range(len(ages)):
        path = tmp_path / f"{i}.png"
        Image.new("RGB", (20, 20), (30 * i, 100, 200)).save(path)
        paths.append(str(path))
    return pd.DataFrame(
        {
            "path": paths,
            "age": ages,
            "gender": [0, 1, 1, 0, 1, 1, 0, 0],
            "race": pd.array([0, 1, None, 2, 2, 3, 4, 0], dtype="Int64"),
        }
    )


@pytest.fixture
def predictions(labels) -> pd.DataFrame:
    """Predictions for ``labels``: known age errors, three gender mistakes, one face not detected."""
    return labels.assign(
        pred_age=[2.0, 4.0, 15.0, 25.0, 20.0, 40.0, 80.0, 70.0],
        p_female=[0.1, 0.9, 0.2, 0.6, 0.8, 0.7, 0.3, 0.55],
        face_detected=[True, True, True, True, True, True, True, False],
    )


def texts(ax) -> list[str]:
    return [text.get_text() for text in ax.texts]


def bar_heights(ax) -> list[float]:
    return [float(patch.get_height()) for patch in ax.patches]


def tick_labels(ax, axis: str = "x") -> list[str]:
    return [label.get_text() for label in getattr(ax, f"get_{axis}ticklabels")()]


def heatmap_values(ax, shape: tuple[int, int]) -> np.ndarray:
    return np.ma.filled(ax.collections[0].get_array().astype(float), np.nan).reshape(shape)


def test_figures_are_returned_not_shown_and_leave_rcparams_alone(labels, predictions):
    before = dict(plt.rcParams)
    metrics = evaluate_predictions(predictions)
    figures = [
        plots.age_histogram(labels),
        plots.label_counts(labels),
        plots.age_gender_heatmap(labels),
        plots.sample_faces(labels),
        plots.gender_confusion(predictions),
        plots.age_group_confusion_matrix(predictions),
        plots.mae_by_age_group(metrics),
        plots.predicted_vs_true(predictions),
        plots.fairness(metrics),
        plots.largest_errors(predictions),
    ]
    assert all(isinstance(fig, Figure) for fig in figures)
    assert plt.get_fignums() == []  # nothing registered with pyplot: nothing to show or leak
    assert dict(plt.rcParams) == before


def test_age_histogram_counts_every_image_in_its_5_year_bin_by_gender(labels):
    ax = plots.age_histogram(labels).axes[0]
    assert sum(bar_heights(ax)) == len(labels)
    per_bin = pd.Series(bar_heights(ax), index=[round(p.get_x()) for p in ax.patches]).groupby(level=0).sum()
    expected, _ = np.histogram(labels["age"], plots.AGE_BINS)
    assert per_bin.reindex(plots.AGE_BINS[:-1], fill_value=0).tolist() == expected.tolist()
    per_gender = {}
    for container in ax.containers:  # one stack layer per gender, told apart by colour
        color = to_rgb(container.patches[0].get_facecolor())
        gender = next(g for g, c in plots.GENDER_COLORS.items() if np.allclose(c, color))
        per_gender[gender] = sum(p.get_height() for p in container.patches)
    assert per_gender == {"male": 4, "female": 4}
    assert "8 images" in ax.get_title()


def test_label_counts_bars_and_their_labels(labels):
    genders, races = plots.label_counts(labels).axes
    assert tick_labels(genders) == list(GENDERS)
    assert bar_heights(genders) == [4, 4]
    assert texts(genders) == ["4", "4"]
    assert tick_labels(races) == ["White", "Black", "Asian", "Indian", "Others", "unknown"]
    assert bar_heights(races) == [2, 1, 2, 1, 1, 1]
    assert texts(races) == ["2", "1", "2", "1", "1", "1"]


def test_label_counts_leaves_out_unknown_race_when_every_race_is_known(labels):
    _, races = plots.label_counts(labels.dropna(subset=["race"])).axes
    assert "unknown" not in tick_labels(races)


def test_age_gender_heatmap_cells_hold_the_counts(labels):
    ax = plots.age_gender_heatmap(labels).axes[0]
    values = heatmap_values(ax, (len(AGE_GROUP_LABELS), 2))
    expected = np.zeros((len(AGE_GROUP_LABELS), 2))
    for group, gender in [
        ("0-2", 0),
        ("3-9", 1),
        ("3-9", 1),
        ("20-29", 0),
        ("20-29", 1),
        ("50-59", 1),
        ("80+", 0),
        ("80+", 0),
    ]:
        expected[AGE_GROUP_LABELS.index(group), gender] += 1
    assert values.tolist() == expected.tolist()
    assert texts(ax) == [str(int(v)) for v in expected.ravel()]
    assert tick_labels(ax, "y") == list(AGE_GROUP_LABELS)
    assert tick_labels(ax) == list(GENDERS)


def test_sample_faces_shows_the_requested_number_of_labelled_images(labels):
    fig = plots.sample_faces(labels, count=5, columns=3)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 5 and len(fig.axes) == 6  # 2 rows of 3, one left blank
    captions = {ax.get_title() for ax in shown}
    sampled = labels.sample(5, random_state=0)
    for age, gender in zip(sampled["age"], sampled["gender"]):
        assert any(c.startswith(f"{age}, {GENDERS[gender]}\n") for c in captions)
    # more asked for than there are: all of them
    assert sum(bool(ax.images) for ax in plots.sample_faces(labels, count=50).axes) == len(labels)


def test_sample_faces_marks_a_missing_race_as_unknown(labels):
    fig = plots.sample_faces(labels[labels["race"].isna()], count=1)
    assert fig.axes[0].get_title() == "7, female\nunknown"


TRAINING_LOG = """epoch,age_mae,age_probs_loss,learning_rate,loss,val_age_mae,val_loss
0,12.0,3.1,0.001,4.0,13.0,4.2
1,9.0,2.8,0.001,3.0,10.0,3.5
2,7.0,2.5,0.0005,2.0,9.5,3.4
2,7.5,2.6,0.0005,2.1,9.0,3.3
"""


def test_training_curves_from_a_csv_file_tolerate_missing_columns_and_a_resumed_epoch(tmp_path):
    path = tmp_path / "training_log.csv"
    path.write_text(TRAINING_LOG)
    fig = plots.training_curves(path)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "age MAE (years)"]  # no gender columns logged
    loss, mae = fig.axes
    lines = {line.get_label(): line for line in mae.get_lines()}
    assert lines["train"].get_xdata().tolist() == [1, 2, 3]  # epochs counted from 1; epoch 2 kept once
    assert lines["train"].get_ydata().tolist() == [12.0, 9.0, 7.5]  # the later row of the repeated epoch
    assert lines["val"].get_ydata().tolist() == [13.0, 10.0, 9.0]
    assert {line.get_label() for line in loss.get_lines()} == {"train", "val"}


def test_training_curves_from_a_dataframe_draw_all_three_panels():
    log = pd.DataFrame(
        {
            "loss": [2.0, 1.0],
            "val_loss": [2.5, 1.5],
            "age_mae": [8.0, 6.0],
            "val_age_mae": [9.0, 7.0],
            "gender_accuracy": [0.7, 0.8],
            "val_gender_accuracy": [0.6, 0.75],
        }
    )
    fig = plots.training_curves(log)
    assert len(fig.axes) == 3
    accuracy = {line.get_label(): line.get_ydata().tolist() for line in fig.axes[2].get_lines()}
    assert accuracy == {"train": [0.7, 0.8], "val": [0.6, 0.75]}
    assert fig.axes[2].get_lines()[0].get_xdata().tolist() == [1, 2]


def test_training_curves_refuse_an_empty_log(tmp_path):
    empty = tmp_path / "training_log.csv"
    empty.write_text("")
    assert plots.read_training_log(empty).empty
    with pytest.raises(ValueError):
        plots.training_curves(empty)
    with pytest.raises(ValueError):
        plots.training_curves(pd.DataFrame({"epoch": [0], "learning_rate": [0.001]}))


def test_gender_confusion_cells_hold_the_counts(predictions):
    ax = plots.gender_confusion(predictions).axes[0]
    # true male: 0.1, 0.6, 0.3, 0.55 -> 2 right, 2 read as female; true female: 0.9, 0.2, 0.8, 0.7 -> 3 right
    expected = [[2, 2], [1, 3]]
    assert heatmap_values(ax, (2, 2)).tolist() == expected
    assert texts(ax) == ["2", "2", "1", "3"]
    assert tick_labels(ax) == ["male", "female"] and tick_labels(ax, "y") == ["male", "female"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted", "true")
    assert "62.5%" in ax.get_title()


def test_age_group_confusion_rows_are_normalised(predictions):
    ax = plots.age_group_confusion_matrix(predictions).axes[0]
    values = heatmap_values(ax, (len(AGE_GROUP_LABELS),) * 2)
    index = AGE_GROUP_LABELS.index
    expected = np.full_like(values, np.nan)  # true groups without images stay blank
    expected[[index(g) for g in ("0-2", "3-9", "20-29", "50-59", "80+")]] = 0
    expected[index("0-2"), index("0-2")] = 1  # 1 -> 2
    expected[index("3-9"), index("3-9")] = 0.5  # 4 -> 4
    expected[index("3-9"), index("10-19")] = 0.5  # 7 -> 15
    expected[index("20-29"), index("20-29")] = 1  # 23 -> 25 and 23 -> 20
    expected[index("50-59"), index("40-49")] = 1  # 50 -> 40
    expected[index("80+"), index("80+")] = 0.5  # 85 -> 80
    expected[index("80+"), index("70-79")] = 0.5  # 99 -> 70
    np.testing.assert_array_equal(values, expected)
    assert "50%" in texts(ax) and "100%" in texts(ax)
    assert tick_labels(ax, "y")[index("20-29")] == "20-29 (n=2)"
    assert tick_labels(ax, "y")[index("30-39")] == "30-39 (n=0)"


def test_mae_by_age_group_bar_heights_and_counts(predictions):
    metrics = evaluate_predictions(predictions)
    ax = plots.mae_by_age_group(metrics).axes[0]
    kept = {g: row for g, row in metrics["by_age_group"].items() if row["n"]}
    assert tick_labels(ax) == ["0-2", "3-9", "20-29", "50-59", "80+"] == list(kept)
    assert bar_heights(ax) == pytest.approx([1.0, 4.0, 2.5, 10.0, 17.0])
    assert bar_heights(ax) == pytest.approx([row["age_mae"] for row in kept.values()])
    assert texts(ax) == ["n=1", "n=2", "n=2", "n=1", "n=2"]
    overall = [line for line in ax.get_lines() if line.get_label() == "all images"]
    assert overall and overall[0].get_ydata()[0] == pytest.approx(metrics["age_mae"])


def test_predicted_vs_true_is_a_hexbin_with_the_identity_line(predictions):
    ax = plots.predicted_vs_true(predictions).axes[0]
    assert ax.collections[0].get_array().sum() == len(predictions)
    identity = [line for line in ax.get_lines() if line.get_label() == "predicted = true"]
    assert len(identity) == 1
    x, y = identity[0].get_data()
    assert list(x) == list(y) == [0, 99]
    assert ax.get_xlim() == ax.get_ylim() == (0, 99)


def test_fairness_bars_per_race_and_gender(predictions):
    metrics = evaluate_predictions(predictions)
    fig = plots.fairness(metrics)
    race_mae, gender_mae, race_accuracy, gender_accuracy = fig.axes[:4]
    races = [name for name, row in metrics["by_race"].items() if row["n"]]
    assert races == ["White", "Black", "Asian", "Indian", "Others", "unknown"]
    assert tick_labels(race_mae) == races
    assert bar_heights(race_mae) == pytest.approx([metrics["by_race"][r]["age_mae"] for r in races])
    assert bar_heights(race_accuracy) == pytest.approx([metrics["by_race"][r]["gender_accuracy"] for r in races])
    assert texts(race_mae) == [f"n={metrics['by_race'][r]['n']}" for r in races]
    assert tick_labels(gender_mae) == ["male", "female"]
    assert bar_heights(gender_mae) == pytest.approx([metrics["by_gender"][g]["age_mae"] for g in GENDERS])
    assert bar_heights(gender_accuracy) == pytest.approx([0.5, 0.75])
    assert [to_rgb(p.get_facecolor()) for p in gender_mae.patches] == [plots.GENDER_COLORS[g] for g in GENDERS]


def test_worst_predictions_and_gallery_largest_error_first(predictions):
    worst = plots.worst_predictions(predictions, 3)
    assert worst["error"].tolist() == [-29.0, -10.0, 8.0]
    fig = plots.largest_errors(predictions, count=3, columns=2)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 3 and len(fig.axes) == 4
    assert [ax.get_title() for ax in shown] == [
        "true 99, male\npred 70, female\n(no face found)",
        "true 50, female\npred 40, female",
        "true 7, female\npred 15, male",
    ]
    assert sum(bool(ax.images) for ax in plots.largest_errors(predictions).axes) == len(predictions)


def test_a_one_epoch_curve_has_only_whole_epoch_ticks():
    fig = plots.training_curves(pd.DataFrame({"epoch": [0], "loss": [2.0], "val_loss": [2.5]}))
    ticks = [t for t in fig.axes[0].get_xticks() if 0.5 <= t <= 1.5]
    assert ticks == [1.0]
