"""faceage_lib.training.export: what the manifest records of the code that exported the model."""

from __future__ import annotations

import json
import subprocess

import faceage_lib
from faceage_lib.training.export import made_by, source_commit


def git(folder, *args):
    subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True)


def test_the_commit_that_exports_is_recorded(tmp_path, monkeypatch):
    assert source_commit(tmp_path) is None  # not a checkout
    git(tmp_path, "init", "-q")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "start")
    (tmp_path / "a.py").write_text("x = 1\n")
    git(tmp_path, "add", "a.py")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "a")
    head = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    assert source_commit(tmp_path) == head.strip()
    (tmp_path / "a.py").write_text("x = 2\n")
    assert source_commit(tmp_path) == head.strip() + "-dirty"
    (tmp_path / "site-packages").mkdir()
    assert source_commit(tmp_path / "site-packages") is None  # inside another checkout: not its commit
    monkeypatch.setenv("PATH", str(tmp_path / "no-git-here"))
    assert source_commit(tmp_path) is None  # git not installed: no commit, no failure


def test_the_manifest_names_the_faceage_that_exported_it(tiny_model_dir):
    manifest = json.loads((tiny_model_dir / "manifest.json").read_text())
    assert manifest["faceage_version"] == faceage_lib.__version__
    assert "git_commit" in manifest


def test_made_by_names_this_faceage():
    made = made_by()
    assert made["faceage_version"] == faceage_lib.__version__ and set(made) == {"faceage_version", "git_commit"}
