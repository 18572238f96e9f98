"""faceage_lib.data.labelled and .sources: labelled folders (APPA-REAL's layout, or labels.csv) on
small generated folders: good rows, bad rows, missing files, the split and its manifest."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from faceage_lib.data import labelled
from faceage_lib.data.sources import combined_split, load_dataset, load_datasets
from faceage_lib.errors import DatasetError


def _photo(path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    Image.fromarray(pixels).resize((48, 48)).save(path)


@pytest.fixture
def official(tmp_path):
    """APPA-REAL's layout: train/val/test folders and their CSVs, with a bad row and a missing file."""
    root = tmp_path / "APPA-Real"
    seed = 0
    for split, count in (("train", 6), ("val", 3), ("test", 3)):
        lines = ["file,age"]
        for k in range(count):
            seed += 1
            _photo(root / split / f"{k:06d}.jpg", seed)
            lines.append(f"{k:06d}.jpg,{10 + 7 * k + 0.4}")
        if split == "train":
            lines += ["missing.jpg,30", "000000.jpg,old"]
        (root / f"{split}_labels.csv").write_text("\n".join(lines) + "\n")
    return root


def test_official_layout_keeps_its_split_and_skips_bad_rows(official, tmp_path):
    dataset = labelled.load_labelled(official, tmp_path / "work")
    assert dataset.name == "appa-real" and not dataset.chips
    assert dataset.summary()["split"] == {"train": 6, "val": 3, "test": 3}
    assert sorted(dataset.skipped) == [
        ("train/000000.jpg", "age 'old' is not a number"),
        ("train/missing.jpg", "file missing or unreadable"),
    ]
    train = dataset.split("train")
    assert train["age"].tolist() == [10, 17, 24, 31, 38, 45]  # decimal ages rounded
    assert train["gender"].isna().all() and train["race"].isna().all()
    assert set(dataset.table["source"]) == {"appa-real"}
    assert all(path.startswith(str(official / "train")) for path in train["path"])


def test_the_manifest_is_reused_while_the_folder_is_unchanged(official, tmp_path, monkeypatch):
    first = labelled.load_labelled(official, tmp_path / "work")
    monkeypatch.setattr(labelled, "scan_tables", lambda *a: pytest.fail("scanned again"))
    again = labelled.load_labelled(official, tmp_path / "work")
    assert again.table.equals(first.table) and again.skipped == first.skipped
    monkeypatch.undo()
    (official / "val_labels.csv").write_text("file,age\n000000.jpg,70\n")
    changed = labelled.load_labelled(official, tmp_path / "work")
    assert changed.summary()["split"]["val"] == 1 and changed.split("val")["age"].tolist() == [70]


def test_one_table_with_genders_is_split_by_content(tmp_path):
    root = tmp_path / "mine"
    rows = ["file,age,gender"]
    for k in range(40):
        _photo(root / "photos" / f"p{k}.png", k)
        rows.append(f"photos/p{k}.png,{20 + k},{['female', 'M', '', '1'][k % 4]}")
    rows += ["photos/p0.png,200,f", "photos/p1.png,30,other"]
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    dataset = load_dataset(root, tmp_path / "work")
    assert dataset.name == "mine" and len(dataset.table) == 40
    assert {reason for _, reason in dataset.skipped} == {
        "age '200' outside 0-116",
        "gender 'other' is not female, male, f, m, 1 or 0",
    }
    genders = dataset.table.set_index("file")["gender"]
    assert genders["photos/p0.png"] == 1 and genders["photos/p1.png"] == 0 and genders["photos/p3.png"] == 1
    assert genders.isna().sum() == 10
    assert set(dataset.table["split"]) == {"train", "val", "test"}
    assert load_dataset(root, tmp_path / "other").table["split"].equals(dataset.table["split"])  # deterministic


def test_a_folder_without_labels_or_columns_is_refused(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "labels.csv").write_text("name,years\na.jpg,3\n")
    with pytest.raises(DatasetError, match="needs the columns file and age"):
        labelled.load_labelled(tmp_path / "bad", tmp_path / "work")
    with pytest.raises(DatasetError, match="neither labels.csv"):
        labelled.load_labelled(tmp_path, tmp_path / "work")


def test_utkface_and_a_labelled_folder_together(utkface_dir, official, tmp_path):
    datasets = load_datasets([utkface_dir["folder"], official], tmp_path / "work")
    assert [d.name for d in datasets] == ["utkface", "appa-real"] and datasets[0].chips
    val = combined_split(datasets, "val")
    assert set(val["source"]) == {"utkface", "appa-real"}
    assert val["gender"][val["source"] == "appa-real"].isna().all()
    assert val["gender"][val["source"] == "utkface"].notna().all()
    with pytest.raises(DatasetError, match="same name"):
        load_datasets([official, official], tmp_path / "work")


@pytest.mark.parametrize("age, gender, expected", [("4", "", (4, None)), ("33.6", "F", (34, 1)), ("0", "male", (0, 0))])
def test_parse_labels(age, gender, expected):
    assert labelled.parse_labels(age, gender) == expected


@pytest.mark.parametrize("age", ["-1", "117", "nan", "inf", ""])
def test_parse_labels_refuses_bad_ages(age):
    with pytest.raises(ValueError):
        labelled.parse_labels(age)
