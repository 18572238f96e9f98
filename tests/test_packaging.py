"""The project's install files agree, and the package installs its data files."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!\[ ;]", line.strip(), maxsplit=1)[0].lower()
            for line in requirements if line.strip() and not line.startswith("#")}


def test_requirements_txt_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = _names(project["dependencies"] + project["optional-dependencies"]["train"])
    listed = _names((ROOT / "requirements.txt").read_text().splitlines())
    assert listed == declared


def test_detector_models_are_package_data():
    from importlib import resources

    folder = resources.files("faceage_lib.inference.detectors") / "models"
    assert (folder / "face_detection_short_range.tflite").is_file()
    assert (folder / "face_detection_full_range.tflite").is_file()
