"""The README, the model card and notebook 02 quote the figures of benchmarks/results/, not copies by hand.

The tables are made by ``benchmarks/tables.py``; the figures quoted in sentences are checked here.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def load_tables():
    spec = importlib.util.spec_from_file_location("tables", ROOT / "benchmarks" / "tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tables = load_tables()


def results(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text())


def notebook_text(name: str) -> str:
    cells = json.loads((ROOT / "notebooks" / name).read_text())["cells"]
    return "\n".join("".join(cell["source"]) for cell in cells)


@pytest.mark.parametrize("document", list(tables.documents()), ids=lambda path: str(path.relative_to(ROOT)))
def test_tables_are_made_from_the_results(document):
    text = document.read_text()
    assert tables.updated(text, tables.documents()[document]) == text, (
        f"{document.relative_to(ROOT)} has tables that differ from benchmarks/results/: run python benchmarks/tables.py"
    )


def test_the_generated_results_tables_are_up_to_date():
    """accuracy.md and robustness.md are what their scripts make of the JSON beside them."""
    assert (RESULTS / "accuracy.md").read_text() == tables.accuracy.markdown(results("accuracy"))
    assert (RESULTS / "robustness.md").read_text() == tables.robustness.markdown(results("robustness"))


def test_a_table_is_replaced_whole_and_a_missing_one_named():
    new = "| a | b |\n|---|---|\n| 5 | 6 |"
    text = "intro\n\n| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |\n\nafter\n"
    assert tables.updated(text, [new]) == f"intro\n\n{new}\n\nafter\n"
    with pytest.raises(ValueError, match="no table with the header"):
        tables.updated(text, ["| c |\n|---|"])


def test_one_epoch_time_everywhere():
    """The README, the model card and notebook 02 give the one measured time of an epoch on 2 cores."""
    speed = results("training_speed")
    epoch_s = speed["epoch_s"]["tensorflow float32"]
    assert epoch_s == round(speed["train_split_images"] / speed["train_images_per_s"]["tensorflow float32"])
    quoted = f"about {round(epoch_s, -1):.0f} s an epoch"
    for text in (
        (ROOT / "README.md").read_text(),
        (ROOT / "models" / "README.md").read_text(),
        notebook_text("02_train.ipynb"),
    ):
        assert quoted in text
        assert "minutes an epoch" not in text
    rates = speed["train_images_per_s"]
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert f"{rates['tensorflow float32']:.0f} images/s on TensorFlow and {rates['jax float32']:.0f} on JAX" in readme


def test_the_webcam_figures_are_the_benchmarks():
    webcam = results("webcam")
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert (
        f"is {webcam['one_face']['median_ms']:.1f} ms with a face and {webcam['no_face']['median_ms']:.1f} ms "
        f"without" in readme
    )
    assert f"at a load average of {webcam['load_average']:.1f}" in readme
