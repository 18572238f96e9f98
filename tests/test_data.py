"""faceage_lib.data: UTKFace names, de-duplication, the deterministic split, archives and the download path."""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import MALFORMED, N_DUPLICATES, QUIRKY_VALID
from faceage_lib import cli, data
from faceage_lib.data import age_group, load_utkface, parse_name, read_manifest
from faceage_lib.errors import DatasetError

# --------------------------------------------------------------------------- names


@pytest.mark.parametrize("name, expected", [
    ("25_0_2_20170116174525125.jpg.chip.jpg", (25, 0, 2)),
    ("1_1_4_20161221193240563.jpg.chip.jpg", (1, 1, 4)),
    ("116_0_0_20170112213001988.jpg.chip.jpg", (116, 0, 0)),
    ("39_1_20170116174525125.jpg.chip.jpg", (39, 1, None)),  # no race field
    ("24_0_1_20170116220224657 .jpg.chip.jpg", (24, 0, 1)),  # space before the extension
    ("55_0_0_20170116232725357jpg.chip.jpg", (55, 0, 0)),  # missing dot
    ("30_1_2_201701162327253570.jpg.chip.jpg", (30, 1, 2)),  # 18-digit date
    ("26_1_3_2017010418362437.jpg.chip.jpg", (26, 1, 3)),  # 16-digit date
    ("40_1_0_20170104183624371.png", (40, 1, 0)),
    ("33_0_7_20170104183624371.jpg", (33, 0, None)),  # race code out of range: unknown
])
def test_parse_name(name, expected):
    assert parse_name(name) == expected


def test_parse_the_fixture_quirks():
    assert [parse_name(n) for n in QUIRKY_VALID] == [(39, 1, None), (24, 0, 1), (55, 0, 0), (30, 1, 2)]


@pytest.mark.parametrize("name, reason", [
    *MALFORMED.items(),
    ("25_2_0_20170116174525125.jpg.chip.jpg", "gender 2 is not 0 or 1"),
    ("117_0_0_20170116174525125.jpg.chip.jpg", "age 117 outside 1-116"),
    ("25_0.jpg", "does not start"),
    ("_25_0_0_20170116174525125.jpg", "does not start"),
    ("", "does not start"),
])
def test_parse_name_rejects_with_reason(name, reason):
    with pytest.raises(ValueError, match=reason):
        parse_name(name)


def test_age_group_edges():
    ages = [0, 1, 2, 2.9, 3, 9, 10, 19, 20, 29, 30, 79, 80, 116]
    assert list(age_group(ages)) == ["0-2", "0-2", "0-2", "0-2", "3-9", "3-9", "10-19", "10-19", "20-29",
                                     "20-29", "30-39", "70-79", "80+", "80+"]


# --------------------------------------------------------------------------- loading the fixture


@pytest.fixture(scope="module")
def loaded(utkface_dir, tmp_path_factory):
    return load_utkface(utkface_dir["folder"], tmp_path_factory.mktemp("work"))


def test_counts(loaded, utkface_dir):
    assert loaded.files == utkface_dir["files"] == 72  # notes.txt is not an image
    assert len(loaded.table) == utkface_dir["valid"] == 64
    assert loaded.duplicates_removed == N_DUPLICATES == 3
    assert len(loaded.skipped) == len(MALFORMED) == 5
    assert loaded.root == utkface_dir["folder"]


def test_skip_reasons(loaded):
    reasons = dict(loaded.skipped)
    assert set(reasons) == set(MALFORMED)
    for name, fragment in MALFORMED.items():
        assert fragment in reasons[name]


def test_table_columns_and_labels(loaded):
    table = loaded.table
    assert list(table.columns) == ["path", "file", "age", "gender", "race", "hash", "split"]
    by_file = table.set_index("file")
    assert tuple(by_file.loc["39_1_20170116174525125.jpg.chip.jpg", ["age", "gender"]]) == (39, 1)
    assert pd.isna(by_file.loc["39_1_20170116174525125.jpg.chip.jpg", "race"])
    assert by_file.loc["24_0_1_20170116220224657 .jpg.chip.jpg", "race"] == 1
    assert str(table["race"].dtype) == "Int64"
    for row in table.itertuples():
        assert Path(row.path).name == row.file
        assert row.hash == hashlib.sha1(Path(row.path).read_bytes()).hexdigest()


def test_duplicates_keep_exactly_one_of_each(loaded, utkface_dir):
    table = loaded.table
    assert table["hash"].is_unique
    copies = [name for name in table["file"] if "_2018" in name]
    assert copies == []  # the first by name (the 2017 original) is kept, the 2018 copy dropped
    folder = utkface_dir["folder"]
    all_hashes = {hashlib.sha1(p.read_bytes()).hexdigest() for p in folder.iterdir()
                  if p.suffix == ".jpg" and p.name not in MALFORMED}
    assert set(table["hash"]) == all_hashes


def test_drop_duplicates_unit():
    table = pd.DataFrame({"file": ["b", "a", "c", "d"], "hash": ["x", "x", "y", "x"]})
    unique, removed = data.drop_duplicates(table)
    assert removed == 2
    assert list(unique["file"]) == ["a", "c"]


def test_summary(loaded):
    summary = loaded.summary()
    assert summary["files"] == 72
    assert summary["unique_images"] == 64
    assert summary["labelled"] == 67
    assert summary["duplicates_removed"] == 3
    assert sum(summary["split"].values()) == 64
    assert {e["file"] for e in summary["skipped"]} == set(MALFORMED)
    json.dumps(summary)  # JSON-friendly


# --------------------------------------------------------------------------- the split


def _split_by_hash(dataset) -> dict:
    return dict(zip(dataset.table["hash"], dataset.table["split"]))


def test_split_values_and_sizes(loaded):
    # every stratum of the fixture is small (2-5 images): they are split as one pool of 64
    assert loaded.table["split"].value_counts().to_dict() == {"train": 45, "test": 13, "val": 6}


def test_split_is_deterministic(loaded, utkface_dir, tmp_path):
    again = load_utkface(utkface_dir["folder"], tmp_path / "work")
    assert _split_by_hash(again) == _split_by_hash(loaded)
    pd.testing.assert_frame_equal(again.table, loaded.table)


def test_split_does_not_depend_on_folder_or_file_order(loaded, utkface_dir, tmp_path):
    other = tmp_path / "elsewhere" / "faces"
    other.mkdir(parents=True)
    for path in sorted(utkface_dir["folder"].iterdir(), reverse=True):  # another creation order
        shutil.copyfile(path, other / path.name)
    moved = load_utkface(other, tmp_path / "work")
    assert moved.root == other
    assert _split_by_hash(moved) == _split_by_hash(loaded)
    assert list(moved.table["file"]) == list(loaded.table["file"])


def test_split_depends_on_seed(utkface_dir, tmp_path):
    table = load_utkface(utkface_dir["folder"], tmp_path).table
    assert not data.assign_splits(table, seed=1).equals(data.assign_splits(table, seed=0))


def test_no_image_in_two_splits(loaded):
    splits = {name: set(loaded.split(name)["hash"]) for name in ("train", "val", "test")}
    assert not splits["train"] & splits["val"]
    assert not splits["train"] & splits["test"]
    assert not splits["val"] & splits["test"]
    assert sum(len(s) for s in splits.values()) == len(loaded.table)


def test_split_is_stratified_by_age_group_and_gender():
    rng = np.random.default_rng(0)
    n = 3000
    table = pd.DataFrame({
        "age": rng.integers(1, 100, n),
        "gender": rng.integers(0, 2, n),
        "hash": [hashlib.sha1(str(i).encode()).hexdigest() for i in range(n)],
    })
    split = data.assign_splits(table)
    strata = pd.Series(age_group(table["age"])) + "/" + table["gender"].astype(str)
    assert strata.nunique() == 20
    for stratum, members in split.groupby(strata):
        size = len(members)
        assert abs((members == "test").sum() - 0.2 * size) <= 0.5, stratum
        assert abs((members == "val").sum() - 0.1 * size) <= 0.5, stratum
    assert abs((split == "test").mean() - 0.2) < 0.01
    assert abs((split == "val").mean() - 0.1) < 0.01


def test_small_strata_are_pooled_and_large_ones_keep_their_own_split():
    big = pd.DataFrame({"age": [25] * 40, "gender": [1] * 40,
                        "hash": [hashlib.sha1(f"big{i}".encode()).hexdigest() for i in range(40)]})
    small = pd.DataFrame({"age": [5, 15, 35, 45, 55, 65, 75, 85] * 2, "gender": [0] * 8 + [1] * 8,
                          "hash": [hashlib.sha1(f"small{i}".encode()).hexdigest() for i in range(16)]})
    alone = data.assign_splits(big)
    together = data.assign_splits(pd.concat([big, small], ignore_index=True))
    # the large stratum's split does not change when small strata are added
    np.testing.assert_array_equal(together[:40].to_numpy(), alone.to_numpy())
    assert (alone == "test").sum() == 8 and (alone == "val").sum() == 4
    # 16 images in 16 strata of one image: pooled, so they get round(20%) test and round(10%) val
    assert together[40:].value_counts().to_dict() == {"train": 11, "test": 3, "val": 2}


def test_split_does_not_depend_on_row_order():
    rows = pd.DataFrame({"age": [25] * 50, "gender": [0] * 50,
                         "hash": [hashlib.sha1(str(i).encode()).hexdigest() for i in range(50)]})
    first = data.assign_splits(rows)
    shuffled = rows.sample(frac=1, random_state=3)
    np.testing.assert_array_equal(data.assign_splits(shuffled).sort_index(), first)


def test_manifest_written_and_readable(loaded):
    assert loaded.manifest.is_file()
    assert loaded.manifest.name == "utkface_split.csv"
    manifest = read_manifest(loaded.manifest)
    pd.testing.assert_frame_equal(manifest, loaded.table, check_dtype=False)
    assert str(manifest["race"].dtype) == "Int64"
    assert manifest["hash"].str.len().eq(40).all()
    assert manifest["race"].isna().sum() == 1  # the name without a race field


def test_manifest_keeps_numeric_looking_hashes(tmp_path):
    table = pd.DataFrame({"path": ["p"], "file": ["f"], "age": [3], "gender": [0], "race": [None],
                          "hash": ["0123456789"], "split": ["train"]})
    table["race"] = table["race"].astype("Int64")
    written = data.write_manifest(table, tmp_path / "deep" / "m.csv")
    assert read_manifest(written)["hash"].tolist() == ["0123456789"]


def test_folder_without_utkface_names(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(DatasetError, match="no UTKFace-named images"):
        load_utkface(folder, tmp_path / "work")


def test_folder_without_images(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no images found"):
        load_utkface(tmp_path / "empty", tmp_path / "work")


def test_missing_data_dir(tmp_path):
    with pytest.raises(DatasetError, match="neither a folder nor"):
        load_utkface(tmp_path / "nothing-here", tmp_path / "work")


def test_finds_the_utkface_folder_inside_a_parent(utkface_dir, loaded, tmp_path):
    parent = utkface_dir["folder"].parent
    found = load_utkface(parent, tmp_path / "work")
    assert found.root == utkface_dir["folder"]
    assert _split_by_hash(found) == _split_by_hash(loaded)


def test_work_dir_defaults_to_faceage_home(utkface_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("FACEAGE_HOME", str(tmp_path / "home"))
    dataset = load_utkface(utkface_dir["folder"])
    assert dataset.manifest == tmp_path / "home" / "utkface_split.csv"


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
def test_archives(kind, utkface_dir, loaded, tmp_path, monkeypatch):
    maker = _zip if kind == "zip" else _tar_gz
    archive = maker(utkface_dir["folder"], tmp_path / f"UTKFace.{kind}")
    work = tmp_path / "work"
    first = load_utkface(archive, work)
    assert first.root.name == "UTKFace"
    assert work in first.root.parents
    assert first.files == utkface_dir["files"]
    assert first.duplicates_removed == N_DUPLICATES
    assert _split_by_hash(first) == _split_by_hash(loaded)

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
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    monkeypatch.delenv("KAGGLE_KEY", raising=False)
    calls = []
    env = {"tmp": tmp_path, "home": home, "calls": calls, "result": None, "error": None}

    def fake_download(handle):
        calls.append(handle)
        if env["error"] is not None:
            raise env["error"]
        return str(env["result"])

    monkeypatch.setattr(data, "_kaggle_download", fake_download)
    return env


def test_download_with_credentials_from_environment(kaggle_env, utkface_dir, monkeypatch):
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", "secret")
    kaggle_env["result"] = utkface_dir["folder"].parent
    assert data.kaggle_credentials_source() == "environment"
    dataset = load_utkface(None)
    assert kaggle_env["calls"] == ["jangedoo/utkface-new"]
    assert dataset.root == utkface_dir["folder"]
    assert len(dataset.table) == 64
    assert dataset.manifest == kaggle_env["tmp"] / "faceage_home" / "utkface_split.csv"


def test_download_with_kaggle_json(kaggle_env, utkface_dir):
    config = kaggle_env["tmp"] / "kaggle_config"
    config.mkdir()
    (config / "kaggle.json").write_text(json.dumps({"username": "someone", "key": "secret"}))
    kaggle_env["result"] = utkface_dir["folder"]
    assert data.kaggle_credentials_source() == "kaggle.json"
    assert len(load_utkface(None, kaggle_env["tmp"] / "w").table) == 64
    assert kaggle_env["calls"] == ["jangedoo/utkface-new"]


def test_kaggle_json_in_home(kaggle_env, utkface_dir, monkeypatch):
    monkeypatch.delenv("KAGGLE_CONFIG_DIR")
    (kaggle_env["home"] / ".kaggle").mkdir()
    (kaggle_env["home"] / ".kaggle" / "kaggle.json").write_text('{"username": "u", "key": "k"}')
    kaggle_env["result"] = utkface_dir["folder"]
    assert data.kaggle_credentials_source() == "kaggle.json"
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
    assert data.kaggle_credentials_source() is None
    with pytest.raises(DatasetError) as caught:
        load_utkface(None, kaggle_env["tmp"] / "w")
    message = str(caught.value)
    for hint in ("KAGGLE_USERNAME", "KAGGLE_KEY", "kaggle.json", "--data-dir"):
        assert hint in message
    assert kaggle_env["calls"] == []


def test_only_half_the_credentials_is_no_credentials(kaggle_env, monkeypatch):
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    assert data.kaggle_credentials_source() is None
    with pytest.raises(DatasetError, match="Kaggle credentials are needed"):
        load_utkface(None, kaggle_env["tmp"] / "w")
    assert kaggle_env["calls"] == []


def _cached_download(cache: Path, version: str, source: Path) -> Path:
    folder = cache / "datasets" / "jangedoo" / "utkface-new" / "versions" / version
    shutil.copytree(source, folder / "UTKFace")
    return folder


def test_earlier_download_is_reused_without_credentials_or_network(kaggle_env, utkface_dir):
    cached = _cached_download(kaggle_env["tmp"] / "kagglehub", "1", utkface_dir["folder"])
    assert data.previous_download() == cached
    dataset = load_utkface(None, kaggle_env["tmp"] / "w")
    assert kaggle_env["calls"] == []
    assert dataset.root == cached / "UTKFace"
    assert len(dataset.table) == 64


def test_earlier_download_default_cache_location(kaggle_env, utkface_dir, monkeypatch):
    monkeypatch.delenv("KAGGLEHUB_CACHE")
    cached = _cached_download(kaggle_env["home"] / ".cache" / "kagglehub", "1", utkface_dir["folder"])
    assert data.previous_download() == cached


def test_newest_earlier_download_wins(kaggle_env, utkface_dir):
    cache = kaggle_env["tmp"] / "kagglehub"
    _cached_download(cache, "2", utkface_dir["folder"])
    newest = _cached_download(cache, "10", utkface_dir["folder"])
    empty = cache / "datasets" / "jangedoo" / "utkface-new" / "versions" / "11"
    empty.mkdir()  # an interrupted download with no images yet is not reused
    (empty.parent / "10.complete").touch()  # kagglehub's completion marker files are skipped
    assert data.previous_download() == newest


@pytest.mark.parametrize("error", [RuntimeError("401 Client Error: Unauthorized for url"),
                                   OSError("403 Forbidden")])
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


# --------------------------------------------------------------------------- faceage data


def test_cli_data_json(utkface_dir, tmp_path, capsys):
    work = tmp_path / "work"
    code = cli.main(["data", "--data-dir", str(utkface_dir["folder"]), "--work-dir", str(work), "--format", "json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert {"files", "unique_images", "skipped", "duplicates_removed", "split", "manifest"} <= set(summary)
    assert summary["files"] == 72
    assert summary["unique_images"] == 64
    assert summary["duplicates_removed"] == 3
    assert len(summary["skipped"]) == 5
    assert {s["file"] for s in summary["skipped"]} == set(MALFORMED)
    assert set(summary["split"]) == {"train", "val", "test"}
    assert sum(summary["split"].values()) == 64
    assert all(isinstance(v, int) and v > 0 for v in summary["split"].values())
    assert Path(summary["manifest"]) == work / "utkface_split.csv"
    manifest = read_manifest(summary["manifest"])
    assert manifest["split"].value_counts().to_dict() == summary["split"]


def test_cli_data_table(utkface_dir, tmp_path, capsys):
    code = cli.main(["data", "--data-dir", str(utkface_dir["folder"]), "--work-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "unique images       64" in out
    assert "duplicates removed  3" in out
    assert "readme.jpg: name does not start" in out


def test_cli_data_error_is_reported_not_raised(tmp_path, capsys):
    code = cli.main(["data", "--data-dir", str(tmp_path / "missing"), "--work-dir", str(tmp_path)])
    assert code == 1
    assert "neither a folder nor" in capsys.readouterr().err
