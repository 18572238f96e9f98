"""The model's measured figures travel with it: ``measured.json`` in the model folder, listed in its manifest.

benchmarks/accuracy.py writes them there; the app reads them from the model folder, so an installed
package (no benchmarks/ beside it) shows them too.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import shutil
from pathlib import Path

import pytest
import tomllib

from faceage_lib.app import texts
from faceage_lib.config import shipped_model_dir
from faceage_lib.errors import ModelFileError
from faceage_lib.inference.estimator import AgeGenderEstimator
from faceage_lib.inference.modelfiles import MEASURED, verified_model
from faceage_lib.training.export import record_measured

ROOT = Path(__file__).resolve().parent.parent


def installed_models(target: Path) -> Path:
    """The shipped model folder as a wheel installs it: only the files its package data names."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    folder = target / "faceage_models"
    folder.mkdir(parents=True)
    for path in shipped_model_dir().iterdir():
        if any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns["faceage_models"]):
            shutil.copy(path, folder / path.name)
    return folder


def benchmark(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_installed_model_shows_its_figures_on_the_page(tmp_path):
    estimator = AgeGenderEstimator(installed_models(tmp_path / "site-packages"))
    assert estimator.measured_file() == estimator.folder / MEASURED
    text = texts.intro(estimator.manifest["files"]["model.tflite"]["sha256"], estimator.measured_file())
    assert "On UTKFace's test photos the age is off by" in text


def test_the_shipped_figures_are_the_benchmarks(tmp_path):
    """models/measured.json holds the figures of benchmarks/results/accuracy.json for this model."""
    results = json.loads((ROOT / "benchmarks" / "results" / "accuracy.json").read_text())
    _, manifest = verified_model(shipped_model_dir(), MEASURED)
    assert results["model_sha256"] == manifest["files"]["model.tflite"]["sha256"]
    shipped = json.loads((shipped_model_dir() / MEASURED).read_text())
    assert shipped == benchmark("accuracy").measured(results)


def test_recorded_figures_are_listed_and_checked(tiny_model_dir, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    assert AgeGenderEstimator(folder).measured_file() is None  # a model not measured yet
    sha = verified_model(folder)[1]["files"]["model.tflite"]["sha256"]
    record_measured(
        folder, {"model_sha256": sha, "by_age_group": {"20-29": {"n": 50, "age_mae": 4.0, "gender_accuracy": 0.9}}}
    )
    estimator = AgeGenderEstimator(folder)
    assert "off by 4.0 years" in texts.intro(sha, estimator.measured_file())
    (folder / MEASURED).write_text("{}")
    with pytest.raises(ModelFileError, match="does not match its checksum"):
        estimator.measured_file()


def test_the_benchmark_copies_only_figures_of_the_same_model(tiny_model_dir, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    accuracy = benchmark("accuracy")
    with pytest.raises(SystemExit, match="measured on another model"):
        accuracy.copy_to_model({"model_sha256": "0" * 64, "faceage": {}}, str(folder))
    sha = verified_model(folder)[1]["files"]["model.tflite"]["sha256"]
    accuracy.copy_to_model({"model_sha256": sha, "faceage": {"n": 3, "by_age_group": {}}}, str(folder))
    assert json.loads((folder / MEASURED).read_text()) == {
        "model_sha256": sha,
        "dataset": "UTKFace test split",
        "n": 3,
        "by_age_group": {},
        "other_datasets": {},
    }
