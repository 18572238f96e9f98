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


def test_every_subpackage_is_installed():
    """A folder of faceage_lib missing from pyproject's package list would be left out of a wheel."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "faceage_lib").rglob("__init__.py")}
    assert found <= listed, f"not in pyproject.toml's packages: {sorted(found - listed)}"


def test_the_version_has_one_source():
    """pyproject.toml reads the version from faceage_lib.__version__, which `faceage --version` prints."""
    import faceage_lib

    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in setuptools["project"] and "version" in setuptools["project"]["dynamic"]
    assert setuptools["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "faceage_lib.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", faceage_lib.__version__) and faceage_lib.__version__ != "0.1.0"
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## [{faceage_lib.__version__}]" in changelog  # the release is described
