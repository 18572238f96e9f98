"""The project's install files agree, and the package installs its data files."""

import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent


def _names(requirements: list[str]) -> set[str]:
    return {
        re.split(r"[<>=!\[ ;]", line.strip(), maxsplit=1)[0].lower()
        for line in requirements
        if line.strip() and not line.startswith("#")
    }


def test_requirements_txt_is_the_base_install():
    """The Space installs requirements.txt: what the app needs, and nothing of training."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = _names((ROOT / "requirements.txt").read_text().splitlines())
    assert listed == _names(project["dependencies"])
    assert not listed & _names(project["optional-dependencies"]["train"])


def test_the_package_ships_its_type_marker():
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "py.typed" in package_data["faceage_lib"] and (ROOT / "faceage_lib" / "py.typed").is_file()


def test_detector_models_are_package_data():
    from importlib import resources

    folder = resources.files("faceage_lib.inference.detectors") / "models"
    assert (folder / "face_detection_short_range.tflite").is_file()
    assert (folder / "face_detection_full_range.tflite").is_file()
