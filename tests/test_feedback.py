"""The consented feedback store: validation, export for training, delete, location, threads, faults.

The store's tests run on SQLite and on PostgreSQL (a throw-away server, see ``postgres_server``
in conftest.py), except those of validation alone, which refuses bad values before any database is
touched: they run on SQLite.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceage_lib import cli
from faceage_lib.data.utkface import parse_name
from faceage_lib.errors import StoreError
from faceage_lib.feedback import FeedbackStore, check_true_age


def smooth_crop(seed: int, size: int = 64) -> np.ndarray:
    """A distinct, smooth RGB crop (survives JPEG nearly unchanged)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(base).resize((size, size), Image.BILINEAR))


def entry(store: FeedbackStore, seed: int = 0, **overrides) -> int:
    values = dict(
        crop=smooth_crop(seed),
        predicted_age=31.4,
        predicted_gender="female",
        gender_prob=0.91,
        true_age=35,
        consent=True,
    )
    values.update(overrides)
    return store.add(**values)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request, tmp_path) -> str:
    """A new, empty database: a SQLite file, or a database on the test PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'feedback.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(store_url) -> FeedbackStore:
    return FeedbackStore(store_url)


@pytest.fixture
def sqlite_store(tmp_path) -> FeedbackStore:
    return FeedbackStore(f"sqlite:///{tmp_path / 'feedback.db'}", timeout=0.3)


# --------------------------------------------------------------------------- validation (on SQLite only)


@pytest.mark.parametrize("consent", [False, None, 0, 1, "yes", "True", "false", "0", "off", "null", [0], [1]])
def test_nothing_is_stored_without_consent(sqlite_store, consent):
    with pytest.raises(ValueError, match="consent"):
        entry(sqlite_store, consent=consent)
    assert sqlite_store.count() == 0


@pytest.mark.parametrize(
    "age",
    [-1, 121, 3.5, "abc", "", None, True, float("nan"), [30], 1e9, "1_0", "\uff13\uff14", "\u0663\u0664", "+34", "3 4"],
)
def test_true_age_must_be_a_whole_number_from_0_to_120(sqlite_store, age):
    with pytest.raises(ValueError, match="true age"):
        entry(sqlite_store, true_age=age)
    assert sqlite_store.count() == 0


@pytest.mark.parametrize("age, stored", [(0, 0), (120, 120), (35.0, 35), ("42", 42), (" 42 ", 42), (np.int64(7), 7)])
def test_valid_true_ages(store, age, stored):
    entry_id = entry(store, true_age=age)
    assert [e.true_age for e in store.entries() if e.id == entry_id] == [stored]
    assert check_true_age(age) == stored


@pytest.mark.parametrize(
    "crop",
    [
        np.zeros((32, 32, 3), np.float32),  # not uint8
        np.zeros((32, 32), np.uint8),  # grayscale
        np.zeros((32, 32, 4), np.uint8),  # RGBA
        np.zeros((0, 32, 3), np.uint8),  # no pixels
        np.zeros((2000, 32, 3), np.uint8),  # far larger than any model input
        np.zeros((4, 32, 32, 3), np.uint8),  # a batch, not one crop
        [[[0, 0, 0]]],  # not an array
        b"\xff\xd8 not a crop",
        None,
    ],
)
def test_bad_crops_are_refused(sqlite_store, crop):
    with pytest.raises(ValueError, match="crop"):
        entry(sqlite_store, crop=crop)
    assert sqlite_store.count() == 0


@pytest.mark.parametrize(
    "field, value",
    [
        ("predicted_gender", "x"),
        ("predicted_gender", None),
        ("true_gender", "unknown"),
        ("gender_prob", 1.5),
        ("gender_prob", "high"),
        ("predicted_age", float("inf")),
    ],
)
def test_bad_predictions_and_genders_are_refused(sqlite_store, field, value):
    with pytest.raises(ValueError, match=field):
        entry(sqlite_store, **{field: value})
    assert sqlite_store.count() == 0


def test_entries_hold_what_was_given(store):
    crop = smooth_crop(3, size=48)
    first = entry(
        store,
        crop=crop,
        predicted_age=20.5,
        predicted_gender="male",
        gender_prob=0.6,
        true_age=22,
        true_gender="female",
    )
    second = entry(store, seed=4, true_gender="")
    assert second > first
    one, two = store.entries()
    assert (one.id, one.predicted_age, one.predicted_gender, one.gender_prob, one.true_age, one.true_gender) == (
        first,
        20.5,
        "male",
        0.6,
        22,
        "female",
    )
    assert one.gender == "female" and one.crop_size == (48, 48)
    assert two.true_gender is None and two.gender is None  # never the model's guess
    assert one.created_at.tzinfo is not None
    np.testing.assert_array_equal(store.crop(first), crop)  # stored losslessly
    with pytest.raises(KeyError):
        store.crop(10_000)


# --------------------------------------------------------------------------- export and delete


def test_export_round_trip(store, tmp_path):
    given = {  # id -> (crop, true age, expected UTKFace gender code)
        entry(store, seed=1, true_age=1, predicted_gender="male", true_gender="male"): (smooth_crop(1), 1, 0),
        entry(store, seed=2, true_age=34, predicted_gender="male", true_gender="female"): (smooth_crop(2), 34, 1),
        entry(store, seed=3, true_age=116, predicted_gender="uncertain", true_gender="female"): (
            smooth_crop(3),
            116,
            1,
        ),
        entry(store, seed=4, true_age=60, predicted_gender="female", true_gender="male"): (smooth_crop(4), 60, 0),
    }
    out = tmp_path / "export"
    written = store.export(out).written
    assert len(written) == len(given)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in written)
    for path in written:
        age, gender, race = parse_name(path.name)
        entry_id = int(Path(path.name).stem.rsplit("_", 1)[1])
        crop, true_age, gender_code = given[entry_id]
        assert (age, gender, race) == (true_age, gender_code, None)
        assert path.suffix == ".jpg"
        pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)
        assert pixels.shape == crop.shape
        assert np.abs(pixels - crop).mean() < 3  # JPEG, quality 95
    assert sorted(store.export(out).written) == sorted(written)  # exporting again: the same files
    assert len(list(out.iterdir())) == len(given)


def test_export_skips_ages_utkface_cannot_name(store, tmp_path):
    """UTKFace's labels are 1-116: an infant of 0 or a person over 116 cannot be named so."""
    entry(store, true_age=0)
    entry(store, true_age=117)
    kept = entry(store, true_age=50)
    result = store.export(tmp_path / "out")
    assert [p.name.split("_")[0] for p in result.written] == ["50"]
    assert result.written[0].stem.endswith(f"_{kept}")
    assert sorted(result.skipped.values()) == [
        "true age 0 is outside UTKFace's 1-116",
        "true age 117 is outside UTKFace's 1-116",
    ]
    assert result.damaged == {}


def test_delete(store, tmp_path):
    keep, remove = entry(store, seed=1, true_age=20), entry(store, seed=2, true_age=40)
    assert store.delete(remove) is True
    assert store.delete(remove) is False
    assert store.delete(99_999) is False
    assert [e.id for e in store.entries()] == [keep] and store.count() == 1
    assert [p.name.split("_")[0] for p in store.export(tmp_path / "out").written] == ["20"]


def test_cli_export_and_delete(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("FACEAGE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FACEAGE_DB_URL", raising=False)
    entry_id = entry(FeedbackStore(), true_age=30)
    assert cli.main(["feedback", "export", "--out", str(tmp_path / "out")]) == 0
    assert "1 crops written" in capsys.readouterr().out
    assert cli.main(["feedback", "delete", "--id", str(entry_id)]) == 0
    assert cli.main(["feedback", "delete", "--id", str(entry_id)]) == 1
    assert "no feedback entry" in capsys.readouterr().err
    assert FeedbackStore().count() == 0


def test_cli_list(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("FACEAGE_DB_URL", f"sqlite:///{tmp_path / 'feedback.db'}")
    first = entry(FeedbackStore(), true_age=30, predicted_age=27.6, true_gender="male")
    second = entry(FeedbackStore(), seed=1, true_age=8)
    assert cli.main(["feedback", "list"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split()[:2] == ["id", "date"]
    assert rows[0].split()[0] == str(first) and "28 female (91%)" in rows[0] and "30 male" in rows[0]
    assert rows[1].split()[0] == str(second) and rows[1].rstrip().endswith("8 -")
    assert cli.main(["feedback", "list", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [e["id"] for e in listed] == [first, second]
    assert listed[0]["true_age"] == 30 and listed[0]["true_gender"] == "male" and listed[1]["true_gender"] is None
    assert listed[0]["created_at"].endswith("+00:00")


def test_cli_list_empty(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("FACEAGE_DB_URL", f"sqlite:///{tmp_path / 'feedback.db'}")
    assert cli.main(["feedback", "list"]) == 0
    assert "no feedback entries" in capsys.readouterr().out


# --------------------------------------------------------------------------- where it lives


def test_default_database_is_under_faceage_home(monkeypatch, tmp_path):
    monkeypatch.setenv("FACEAGE_HOME", str(tmp_path / "faceage"))
    monkeypatch.delenv("FACEAGE_DB_URL", raising=False)
    store = FeedbackStore()
    assert store.url.get_backend_name() == "sqlite"
    assert Path(store.url.database) == tmp_path / "faceage" / "feedback.db"
    entry(store)
    assert (tmp_path / "faceage" / "feedback.db").is_file()
    assert FeedbackStore().count() == 1  # a new store on the same file sees the entry


def test_default_database_without_faceage_home(monkeypatch, tmp_path):
    for name in ("FACEAGE_HOME", "FACEAGE_DB_URL", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    store = FeedbackStore()
    assert Path(store.url.database) == tmp_path / ".local" / "share" / "faceage" / "feedback.db"


def test_database_url_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FACEAGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FACEAGE_DB_URL", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    entry(FeedbackStore())
    assert (tmp_path / "elsewhere.db").is_file()
    assert not (tmp_path / "home" / "feedback.db").exists()


# --------------------------------------------------------------------------- threads


@pytest.mark.parametrize("url", ["file", "sqlite://", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_concurrent_adds_are_all_stored_once(request, tmp_path, url):
    store = FeedbackStore(
        {"file": f"sqlite:///{tmp_path / 'feedback.db'}", "sqlite://": url}.get(url)
        or request.getfixturevalue("postgres_url")
    )
    n = 100
    start = threading.Barrier(20)

    def add(i: int) -> int:
        if i < 20:
            start.wait()  # the first 20 start together
        crop = np.full((16, 16, 3), (i, 255 - i, 7), np.uint8)  # encodes i
        return store.add(crop, 30.0, "male", 0.8, true_age=i % 121, consent=True)

    with ThreadPoolExecutor(max_workers=20) as pool:
        ids = list(pool.map(add, range(n)))
    assert len(set(ids)) == n
    assert store.count() == n
    entries = store.entries()
    assert sorted(e.id for e in entries) == sorted(ids)
    assert sorted(int(store.crop(e.id)[0, 0, 0]) for e in entries) == list(range(n))
    assert sorted(e.true_age for e in entries) == list(range(n))


# --------------------------------------------------------------------------- private files


def test_new_database_and_its_folder_are_owner_only(monkeypatch, tmp_path):
    monkeypatch.setenv("FACEAGE_HOME", str(tmp_path / "new" / "faceage"))
    monkeypatch.delenv("FACEAGE_DB_URL", raising=False)
    umask = os.umask(0o022)  # the usual umask: files readable by all unless made private
    try:
        entry(FeedbackStore())
    finally:
        os.umask(umask)
    folder = tmp_path / "new" / "faceage"
    assert folder.stat().st_mode & 0o777 == 0o700
    for name in ("feedback.db", "feedback.db-wal", "feedback.db-shm"):
        assert (folder / name).stat().st_mode & 0o777 == 0o600, name


# --------------------------------------------------------------------------- faults


def test_damaged_database_file_gives_a_store_error(tmp_path):
    path = tmp_path / "feedback.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not a SQLite database") as caught:
        FeedbackStore(f"sqlite:///{path}")
    assert str(path) in str(caught.value) and str(path) not in caught.value.reason


def test_locked_database_times_out_quickly(sqlite_store):
    entry(sqlite_store)
    other = sqlite3.connect(sqlite_store.url.database, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another program holds the write lock
    try:
        start = time.monotonic()
        with pytest.raises(StoreError, match="locked by another program"):
            entry(sqlite_store, seed=1)
        assert time.monotonic() - start < 3
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert sqlite_store.count() == 1


def test_read_only_database_gives_a_store_error(sqlite_store):
    entry_id = entry(sqlite_store)
    read_only = FeedbackStore(f"sqlite:///file:{sqlite_store.url.database}?mode=ro&uri=true")
    assert read_only.count() == 1  # reading works
    with pytest.raises(StoreError, match="read-only"):
        read_only.delete(entry_id)
    with pytest.raises(StoreError, match="read-only"):
        entry(read_only)


def test_unusable_urls_give_a_store_error():
    with pytest.raises(StoreError, match="not a database URL"):
        FeedbackStore("not a url")
    with pytest.raises(StoreError, match="driver"):
        FeedbackStore("postgresql+nosuchdriver://user@localhost/db")


def damage(store: FeedbackStore, entry_id: int, column: str, value) -> None:
    """Overwrite one field behind the store's back, as a broken tool or disk might."""
    with sqlite3.connect(store.url.database) as connection:
        connection.execute(f"UPDATE feedback SET {column} = ? WHERE id = ?", (value, entry_id))


def test_export_skips_and_reports_damaged_rows(sqlite_store, tmp_path):
    good = entry(sqlite_store, seed=1, true_age=20)
    bad_crop = entry(sqlite_store, seed=2, true_age=30)
    bad_date = entry(sqlite_store, seed=3, true_age=40)
    bad_gender = entry(sqlite_store, seed=4, true_age=50)
    last = entry(sqlite_store, seed=5, true_age=60)
    damage(sqlite_store, bad_crop, "crop_png", b"\x89PNG broken")
    damage(sqlite_store, bad_date, "created_at", "yesterday")
    damage(sqlite_store, bad_gender, "predicted_gender", "x")
    result = sqlite_store.export(tmp_path / "out")
    assert [p.name.split("_")[0] for p in result.written] == ["20", "60"]  # the export went on past them
    assert sorted(result.damaged) == [bad_crop, bad_date, bad_gender]
    assert "not a readable PNG" in result.damaged[bad_crop]
    assert {good, last} == {int(p.stem.rsplit("_", 1)[1]) for p in result.written}


def test_cli_reports_damaged_rows(monkeypatch, sqlite_store, tmp_path, capsys):
    monkeypatch.setenv("FACEAGE_DB_URL", str(sqlite_store.url))
    entry(sqlite_store, true_age=20)
    damage(sqlite_store, entry(sqlite_store, seed=1, true_age=30), "crop_png", b"")
    assert cli.main(["feedback", "export", "--out", str(tmp_path / "out")]) == 3
    captured = capsys.readouterr()
    assert "1 crops written" in captured.out
    assert "entry 2 is damaged" in captured.err and "not exported" in captured.err


@pytest.mark.parametrize("fault", ["damaged", "read-only"])
@pytest.mark.parametrize("command", [["list"], ["export", "--out", "out"], ["delete", "--id", "1"]])
def test_cli_database_faults_give_one_line_and_exit_1(monkeypatch, tmp_path, capsys, fault, command):
    path = tmp_path / "feedback.db"
    if fault == "damaged":
        path.write_bytes(b"this is not a database" * 100)
        url = f"sqlite:///{path}"
    else:
        entry(FeedbackStore(f"sqlite:///{path}"))
        url = f"sqlite:///file:{path}?mode=ro&uri=true"
    monkeypatch.setenv("FACEAGE_DB_URL", url)
    monkeypatch.chdir(tmp_path)
    code = cli.main(["feedback", *command])
    err = capsys.readouterr().err
    if fault == "read-only" and command[0] != "delete":
        assert code == 0 and err == ""  # reading a read-only database works
        return
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("faceage: the feedback database")
    assert ("not a SQLite database" if fault == "damaged" else "read-only") in err


def test_a_gender_not_given_is_exported_as_unknown_never_as_the_guess(store, tmp_path):
    """A face shown as "uncertain, 53% M" and sent without a gender: stored as shown, listed with
    no true gender, exported as ``{age}_unknown_...``, which the data layer skips, saying why."""
    unsure = entry(store, true_age=27, predicted_gender="uncertain", gender_prob=0.53)
    leaning = entry(store, seed=2, true_age=31, predicted_gender="male", gender_prob=0.9)
    by_id = {e.id: e for e in store.entries()}
    assert by_id[unsure].predicted_gender == "uncertain" and by_id[unsure].gender is None
    assert by_id[leaning].gender is None
    names = sorted(path.name for path in store.export(tmp_path).written)
    assert [name.split("_")[:2] for name in names] == [["27", "unknown"], ["31", "unknown"]]
    for name in names:
        with pytest.raises(ValueError, match="gender unknown"):
            parse_name(name)


def test_ids_are_never_reused_after_a_delete(store):
    first, second = entry(store), entry(store, seed=2)
    assert store.delete(second)
    third = entry(store, seed=3)
    assert third > second > first
