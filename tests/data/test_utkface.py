"""faceage_lib.data.utkface: UTKFace names, de-duplication, the deterministic split, the split manifest."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import MALFORMED, N_DUPLICATES, QUIRKY_VALID

from faceage_lib.config import age_group
from faceage_lib.data import dataset, utkface
from faceage_lib.data.dataset import read_manifest
from faceage_lib.data.utkface import load_utkface, parse_name
from faceage_lib.errors import DatasetError

# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    "name, expected",
    [
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
    ],
)
def test_parse_name(name, expected):
    assert parse_name(name) == expected


def test_parse_the_fixture_quirks():
    assert [parse_name(n) for n in QUIRKY_VALID] == [(39, 1, None), (24, 0, 1), (55, 0, 0), (30, 1, 2)]


@pytest.mark.parametrize(
    "name, reason",
    [
        *MALFORMED.items(),
        ("25_2_0_20170116174525125.jpg.chip.jpg", "gender 2 is not 0 or 1"),
        ("117_0_0_20170116174525125.jpg.chip.jpg", "age 117 outside 1-116"),
        ("25_0.jpg", "does not start"),
        ("_25_0_0_20170116174525125.jpg", "does not start"),
        ("", "does not start"),
    ],
)
def test_parse_name_rejects_with_reason(name, reason):
    with pytest.raises(ValueError, match=reason):
        parse_name(name)


def test_age_group_edges():
    ages = [0, 1, 2, 2.9, 3, 9, 10, 19, 20, 29, 30, 79, 80, 116]
    assert list(age_group(ages)) == [
        "0-2",
        "0-2",
        "0-2",
        "0-2",
        "3-9",
        "3-9",
        "10-19",
        "10-19",
        "20-29",
        "20-29",
        "30-39",
        "70-79",
        "80+",
        "80+",
    ]


# --------------------------------------------------------------------------- loading the fixture


def test_counts(utkface_loaded, utkface_dir):
    assert utkface_loaded.files == utkface_dir["files"] == 72  # notes.txt is not an image
    assert len(utkface_loaded.table) == utkface_dir["valid"] == 64
    assert utkface_loaded.duplicates_removed == N_DUPLICATES == 3
    assert len(utkface_loaded.skipped) == len(MALFORMED) == 5
    assert utkface_loaded.root == utkface_dir["folder"]


def test_skip_reasons(utkface_loaded):
    reasons = dict(utkface_loaded.skipped)
    assert set(reasons) == set(MALFORMED)
    for name, fragment in MALFORMED.items():
        assert fragment in reasons[name]


def test_table_columns_and_labels(utkface_loaded):
    table = utkface_loaded.table
    assert list(table.columns) == ["path", "file", "age", "gender", "race", "hash", "split", "source"]
    by_file = table.set_index("file")
    assert tuple(by_file.loc["39_1_20170116174525125.jpg.chip.jpg", ["age", "gender"]]) == (39, 1)
    assert pd.isna(by_file.loc["39_1_20170116174525125.jpg.chip.jpg", "race"])
    assert by_file.loc["24_0_1_20170116220224657 .jpg.chip.jpg", "race"] == 1
    assert str(table["race"].dtype) == "Int64"
    for row in table.itertuples():
        assert Path(row.path).name == row.file
        assert row.hash == hashlib.sha1(Path(row.path).read_bytes()).hexdigest()


def test_duplicates_keep_exactly_one_of_each(utkface_loaded, utkface_dir):
    table = utkface_loaded.table
    assert table["hash"].is_unique
    copies = [name for name in table["file"] if "_2018" in name]
    assert copies == []  # the first by name (the 2017 original) is kept, the 2018 copy dropped
    folder = utkface_dir["folder"]
    all_hashes = {
        hashlib.sha1(p.read_bytes()).hexdigest()
        for p in folder.iterdir()
        if p.suffix == ".jpg" and p.name not in MALFORMED
    }
    assert set(table["hash"]) == all_hashes


def test_drop_duplicates_unit():
    table = pd.DataFrame({"file": ["b", "a", "c", "d"], "hash": ["x", "x", "y", "x"]})
    unique, removed = dataset.drop_duplicates(table)
    assert removed == 2
    assert list(unique["file"]) == ["a", "c"]


def test_summary(utkface_loaded):
    summary = utkface_loaded.summary()
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


def test_split_values_and_sizes(utkface_loaded):
    # every stratum of the fixture is small (2-5 images): they are split as one pool of 64
    assert utkface_loaded.table["split"].value_counts().to_dict() == {"train": 45, "test": 13, "val": 6}


def test_split_is_deterministic(utkface_loaded, utkface_dir, tmp_path):
    again = load_utkface(utkface_dir["folder"], tmp_path / "work")
    assert _split_by_hash(again) == _split_by_hash(utkface_loaded)
    pd.testing.assert_frame_equal(again.table, utkface_loaded.table)


def test_split_does_not_depend_on_folder_or_file_order(utkface_loaded, utkface_dir, tmp_path):
    other = tmp_path / "elsewhere" / "faces"
    other.mkdir(parents=True)
    for path in sorted(utkface_dir["folder"].iterdir(), reverse=True):  # another creation order
        shutil.copyfile(path, other / path.name)
    moved = load_utkface(other, tmp_path / "work")
    assert moved.root == other
    assert _split_by_hash(moved) == _split_by_hash(utkface_loaded)
    assert list(moved.table["file"]) == list(utkface_loaded.table["file"])


def test_split_depends_on_seed(utkface_dir, tmp_path):
    table = load_utkface(utkface_dir["folder"], tmp_path).table
    assert not dataset.assign_splits(table, seed=1).equals(dataset.assign_splits(table, seed=0))


def test_no_image_in_two_splits(utkface_loaded):
    splits = {name: set(utkface_loaded.split(name)["hash"]) for name in ("train", "val", "test")}
    assert not splits["train"] & splits["val"]
    assert not splits["train"] & splits["test"]
    assert not splits["val"] & splits["test"]
    assert sum(len(s) for s in splits.values()) == len(utkface_loaded.table)


def test_split_is_stratified_by_age_group_and_gender():
    rng = np.random.default_rng(0)
    n = 3000
    table = pd.DataFrame(
        {
            "age": rng.integers(1, 100, n),
            "gender": rng.integers(0, 2, n),
            "hash": [hashlib.sha1(str(i).encode()).hexdigest() for i in range(n)],
        }
    )
    split = dataset.assign_splits(table)
    strata = pd.Series(age_group(table["age"])) + "/" + table["gender"].astype(str)
    assert strata.nunique() == 20
    for stratum, members in split.groupby(strata):
        size = len(members)
        assert abs((members == "test").sum() - 0.2 * size) <= 0.5, stratum
        assert abs((members == "val").sum() - 0.1 * size) <= 0.5, stratum
    assert abs((split == "test").mean() - 0.2) < 0.01
    assert abs((split == "val").mean() - 0.1) < 0.01


def test_small_strata_are_pooled_and_large_ones_keep_their_own_split():
    big = pd.DataFrame(
        {
            "age": [25] * 40,
            "gender": [1] * 40,
            "hash": [hashlib.sha1(f"big{i}".encode()).hexdigest() for i in range(40)],
        }
    )
    small = pd.DataFrame(
        {
            "age": [5, 15, 35, 45, 55, 65, 75, 85] * 2,
            "gender": [0] * 8 + [1] * 8,
            "hash": [hashlib.sha1(f"small{i}".encode()).hexdigest() for i in range(16)],
        }
    )
    alone = dataset.assign_splits(big)
    together = dataset.assign_splits(pd.concat([big, small], ignore_index=True))
    # the large stratum's split does not change when small strata are added
    np.testing.assert_array_equal(together[:40].to_numpy(), alone.to_numpy())
    assert (alone == "test").sum() == 8 and (alone == "val").sum() == 4
    # 16 images in 16 strata of one image: pooled, so they get round(20%) test and round(10%) val
    assert together[40:].value_counts().to_dict() == {"train": 11, "test": 3, "val": 2}


def test_split_does_not_depend_on_row_order():
    rows = pd.DataFrame(
        {"age": [25] * 50, "gender": [0] * 50, "hash": [hashlib.sha1(str(i).encode()).hexdigest() for i in range(50)]}
    )
    first = dataset.assign_splits(rows)
    shuffled = rows.sample(frac=1, random_state=3)
    np.testing.assert_array_equal(dataset.assign_splits(shuffled).sort_index(), first)


def test_manifest_written_and_readable(utkface_loaded):
    assert utkface_loaded.manifest.is_file()
    assert utkface_loaded.manifest.name == "utkface_split.csv"
    manifest = read_manifest(utkface_loaded.manifest)
    pd.testing.assert_frame_equal(manifest, utkface_loaded.table, check_dtype=False)
    assert str(manifest["race"].dtype) == "Int64"
    assert manifest["hash"].str.len().eq(40).all()
    assert manifest["race"].isna().sum() == 1  # the name without a race field


def test_manifest_keeps_numeric_looking_hashes(tmp_path):
    table = pd.DataFrame(
        {
            "path": ["p"],
            "file": ["f"],
            "age": [3],
            "gender": [0],
            "race": [None],
            "hash": ["0123456789"],
            "split": ["train"],
        }
    )
    table["race"] = table["race"].astype("Int64")
    written = dataset.write_manifest(table, tmp_path / "deep" / "m.csv")
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


def test_finds_the_utkface_folder_inside_a_parent(utkface_dir, utkface_loaded, tmp_path):
    parent = utkface_dir["folder"].parent
    found = load_utkface(parent, tmp_path / "work")
    assert found.root == utkface_dir["folder"]
    assert _split_by_hash(found) == _split_by_hash(utkface_loaded)


def test_work_dir_defaults_to_faceage_home(utkface_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("FACEAGE_HOME", str(tmp_path / "home"))
    dataset = load_utkface(utkface_dir["folder"])
    assert dataset.manifest == tmp_path / "home" / "utkface_split.csv"


def test_manifest_is_read_back_while_the_folder_is_unchanged(utkface_dir, tmp_path, monkeypatch):
    folder = tmp_path / "UTKFace"
    shutil.copytree(utkface_dir["folder"], folder)
    first = load_utkface(folder, tmp_path / "work")
    scans = []
    real_scan = utkface.scan_folder
    monkeypatch.setattr(utkface, "scan_folder", lambda root: scans.append(root) or real_scan(root))

    again = load_utkface(folder, tmp_path / "work")
    assert scans == []  # no image was opened or hashed
    pd.testing.assert_frame_equal(again.table, first.table)
    assert again.summary() == first.summary()

    (folder / "33_1_0_20170116174525999.jpg.chip.jpg").write_bytes((folder / first.table["file"][0]).read_bytes())
    changed = load_utkface(folder, tmp_path / "work")
    assert scans == [folder]  # a new file: scanned again
    assert changed.files == first.files + 1
    assert changed.duplicates_removed == first.duplicates_removed + 1
    assert load_utkface(folder, tmp_path / "work", seed=1) is not None and len(scans) == 2  # another seed
