"""faceage_lib.data.download: archives, Kaggle credentials and the download (its network call replaced)."""

from __future__ import annotations

import json
import shutil
import tarfile
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from conftest import N_DUPLICATES

from faceage_lib.data import download
from faceage_lib.data.utkface import load_utkface
from faceage_lib.errors import DatasetError

# --------------------------------------------------------------------------- archives


def _zip(folder: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in sorted(folder.iterdir()):
            bundle.write(path, f"{folder.name}/{path.name}")
    return archive


def _tar_gz(folder: Path, archive: Path) -> Path:
    with tarfile.open(archive, "w:gz") as bundle:
        bundle.add(folder, arcname=f"archive_root/{folder.name}")
    return archive


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_archives(kind, utkface_dir, utkface_loaded, tmp_path, monkeypatch):
    maker = _zip if kind == "zip" else _tar_gz
    archive = maker(utkface_dir["folder"], tmp_path / f"UTKFace.{kind}")
    work = tmp_path / "work"
    first = load_utkface(archive, work)
    assert first.root.name == "UTKFace"
    assert work in first.root.parents
    assert first.files == utkface_dir["files"]
    assert first.duplicates_removed == N_DUPLICATES
    assert first.table.set_index("hash")["split"].to_dict() == utkface_loaded.table.set_index("hash")["split"].to_dict()

    # extracted once: a second load reuses the folder without opening the archive
    def no_second_extraction(*args, **kwargs):
        raise AssertionError("the archive was extracted again")

    monkeypatch.setattr(zipfile.ZipFile, "extractall", no_second_extraction)
    monkeypatch.setattr(tarfile.TarFile, "extractall", no_second_extraction)
    second = load_utkface(archive, work)
    assert second.root == first.root
    pd.testing.assert_frame_equal(second.table, first.table)


def test_two_archives_with_the_same_name_are_not_confused(utkface_dir, tmp_path):
    """A .zip and a .tar.gz (or two archives of one name in different folders) each get their own folder."""
    full = _zip(utkface_dir["folder"], tmp_path / "UTKFace.zip")
    small_folder = tmp_path / "small" / "UTKFace"
    small_folder.mkdir(parents=True)
    for path in sorted(utkface_dir["folder"].glob("*.jpg"))[:10]:
        shutil.copyfile(path, small_folder / path.name)
    small = _tar_gz(small_folder, tmp_path / "UTKFace.tar.gz")
    work = tmp_path / "work"
    assert load_utkface(full, work).files == utkface_dir["files"]
    assert load_utkface(small, work).files == 10
    (tmp_path / "other").mkdir()
    small_zip = _zip(small_folder, tmp_path / "other" / "UTKFace.zip")
    assert load_utkface(small_zip, work).files == 10
    assert load_utkface(full, work).files == utkface_dir["files"]


def test_damaged_archive(tmp_path):
    archive = tmp_path / "broken.zip"
    archive.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DatasetError, match="cannot extract"):
        load_utkface(archive, tmp_path / "work")
    # nothing half-extracted is left to be reused
    with pytest.raises(DatasetError, match="cannot extract"):
        load_utkface(archive, tmp_path / "work")


# --------------------------------------------------------------------------- the download path


@pytest.fixture
def kaggle_env(monkeypatch, tmp_path):
    """No credentials anywhere, and every cache in tmp_path; the network call is recorded instead."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "kaggle_config"))
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "kagglehub"))
    monkeypatch.setenv("FACEAGE_HOME", str(tmp_path / "faceage_home"))
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    calls = []
    env = {"tmp": tmp_path, "home": home, "calls": calls, "result": None, "error": None}

    def fake_download(handle):
        calls.append(handle)
        if env["error"] is not None:
            raise env["error"]
        return str(env["result"])

    monkeypatch.setattr(download, "_kaggle_download", fake_download)
    return env


def test_download_with_credentials_from_environment(kaggle_env, utkface_dir, monkeypatch):
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", "secret")
    kaggle_env["result"] = utkface_dir["folder"].parent
    assert download.kaggle_credentials_source() == "environment"
    dataset = load_utkface(None)
    assert kaggle_env["calls"] == ["jangedoo/utkface-new"]
    assert dataset.root == utkface_dir["folder"]
    assert len(dataset.table) == 64
    assert dataset.manifest == kaggle_env["tmp"] / "faceage_home" / "utkface_split.csv"


def test_download_with_the_api_token_from_environment(kaggle_env, utkface_dir, monkeypatch):
    monkeypatch.setenv("KAGGLE_API_TOKEN", "KGAT_0123")
    kaggle_env["result"] = utkface_dir["folder"]
    assert download.kaggle_credentials_source() == "environment"
    assert len(load_utkface(None, kaggle_env["tmp"] / "w").table) == 64
    assert kaggle_env["calls"] == ["jangedoo/utkface-new"]


@pytest.fixture
def colab_secrets(monkeypatch):
    """A fake ``google.colab.userdata`` holding the secrets put in the returned dict."""
    import sys
    import types

    secrets: dict[str, str] = {}

    def get(name):
        if name not in secrets:
            raise KeyError(name)  # Colab raises SecretNotFoundError
        return secrets[name]

    colab = types.ModuleType("google.colab")
    colab.userdata = types.SimpleNamespace(get=get)
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    return secrets


@pytest.mark.parametrize("given", [{"KAGGLE_API_TOKEN": "KGAT_0123"}, {"KAGGLE_USERNAME": "u", "KAGGLE_KEY": "k"}])
def test_colab_secrets_of_either_kind_reach_the_environment(kaggle_env, colab_secrets, monkeypatch, given):
    import os

    colab_secrets.update(given)
    assert download.kaggle_credentials_source() == "colab secrets"
    assert all(os.environ[name] == value for name, value in given.items())


def test_half_a_colab_secret_is_no_credentials(kaggle_env, colab_secrets):
    colab_secrets["KAGGLE_USERNAME"] = "u"
    assert download.kaggle_credentials_source() is None


def test_kaggle_setup_says_where_the_data_comes_from(kaggle_env, utkface_dir, monkeypatch):
    assert download.kaggle_setup(utkface_dir["folder"]) == f"No download needed: {utkface_dir['folder']}"
    assert download.kaggle_setup(None).startswith("No Kaggle credentials found.\nKaggle credentials are needed")
    monkeypatch.setenv("KAGGLE_API_TOKEN", "KGAT_0123")
    assert download.kaggle_setup(None) == "Kaggle credentials: environment"
    cached = _cached_download(kaggle_env["tmp"] / "kagglehub", "1", utkface_dir["folder"])
    assert download.kaggle_setup(None) == f"No download needed: {cached}"
    assert kaggle_env["calls"] == []


def test_download_with_kaggle_json(kaggle_env, utkface_dir):
    config = kaggle_env["tmp"] / "kaggle_config"
    config.mkdir()
    (config / "kaggle.json").write_text(json.dumps({"username": "someone", "key": "secret"}))
    kaggle_env["result"] = utkface_dir["folder"]
    assert download.kaggle_credentials_source() == "kaggle.json"
    assert len(load_utkface(None, kaggle_env["tmp"] / "w").table) == 64
    assert kaggle_env["calls"] == ["jangedoo/utkface-new"]


def test_kaggle_json_in_home(kaggle_env, utkface_dir, monkeypatch):
    monkeypatch.delenv("KAGGLE_CONFIG_DIR")
    (kaggle_env["home"] / ".kaggle").mkdir()
    (kaggle_env["home"] / ".kaggle" / "kaggle.json").write_text('{"username": "u", "key": "k"}')
    kaggle_env["result"] = utkface_dir["folder"]
    assert download.kaggle_credentials_source() == "kaggle.json"
    load_utkface(None, kaggle_env["tmp"] / "w")
    assert len(kaggle_env["calls"]) == 1


@pytest.mark.parametrize("content", ["not json", '{"username": "u"}', '{"username": "", "key": "k"}', "[1, 2]"])
def test_invalid_kaggle_json(kaggle_env, content):
    config = kaggle_env["tmp"] / "kaggle_config"
    config.mkdir()
    (config / "kaggle.json").write_text(content)
    with pytest.raises(DatasetError, match="not a valid kaggle.json"):
        load_utkface(None, kaggle_env["tmp"] / "w")
    assert kaggle_env["calls"] == []


def test_no_credentials_says_what_to_do(kaggle_env):
    assert download.kaggle_credentials_source() is None
    with pytest.raises(DatasetError) as caught:
        load_utkface(None, kaggle_env["tmp"] / "w")
    message = str(caught.value)
    for hint in ("KAGGLE_API_TOKEN", "KAGGLE_USERNAME", "KAGGLE_KEY", "kaggle.json", "--data-dir"):
        assert hint in message
    assert kaggle_env["calls"] == []


def test_only_half_the_credentials_is_no_credentials(kaggle_env, monkeypatch):
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    assert download.kaggle_credentials_source() is None
    with pytest.raises(DatasetError, match="Kaggle credentials are needed"):
        load_utkface(None, kaggle_env["tmp"] / "w")
    assert kaggle_env["calls"] == []


def _cached_download(cache: Path, version: str, source: Path) -> Path:
    folder = cache / "datasets" / "jangedoo" / "utkface-new" / "versions" / version
    shutil.copytree(source, folder / "UTKFace")
    return folder


def test_earlier_download_is_reused_without_credentials_or_network(kaggle_env, utkface_dir):
    cached = _cached_download(kaggle_env["tmp"] / "kagglehub", "1", utkface_dir["folder"])
    assert download.previous_download() == cached
    dataset = load_utkface(None, kaggle_env["tmp"] / "w")
    assert kaggle_env["calls"] == []
    assert dataset.root == cached / "UTKFace"
    assert len(dataset.table) == 64


def test_earlier_download_default_cache_location(kaggle_env, utkface_dir, monkeypatch):
    monkeypatch.delenv("KAGGLEHUB_CACHE")
    cached = _cached_download(kaggle_env["home"] / ".cache" / "kagglehub", "1", utkface_dir["folder"])
    assert download.previous_download() == cached


def test_newest_earlier_download_wins(kaggle_env, utkface_dir):
    cache = kaggle_env["tmp"] / "kagglehub"
    _cached_download(cache, "2", utkface_dir["folder"])
    newest = _cached_download(cache, "10", utkface_dir["folder"])
    empty = cache / "datasets" / "jangedoo" / "utkface-new" / "versions" / "11"
    empty.mkdir()  # an interrupted download with no images yet is not reused
    (empty.parent / "10.complete").touch()  # kagglehub's completion marker files are skipped
    assert download.previous_download() == newest


@pytest.mark.parametrize("error", [RuntimeError("401 Client Error: Unauthorized for url"), OSError("403 Forbidden")])
def test_refused_credentials(kaggle_env, monkeypatch, error):
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", "wrong")
    kaggle_env["error"] = error
    with pytest.raises(DatasetError, match="Kaggle refused the credentials") as caught:
        load_utkface(None, kaggle_env["tmp"] / "w")
    assert "KAGGLE_KEY" in str(caught.value)
    assert len(kaggle_env["calls"]) == 1


def test_other_download_failure(kaggle_env, monkeypatch):
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", "key")
    kaggle_env["error"] = ConnectionError("Name or service not known")
    with pytest.raises(DatasetError, match="downloading jangedoo/utkface-new from Kaggle failed: Name or service"):
        load_utkface(None, kaggle_env["tmp"] / "w")
