"""Edges of the feedback store and the command line (issue 17): huge ids and ages give plain answers, what a web
user is told names no file, folder or host of the server, and no file name can forge a line of output."""

from __future__ import annotations

import pytest

from faceage_lib.cli import main
from faceage_lib.errors import StoreError
from faceage_lib.feedback import FeedbackStore, check_true_age


@pytest.fixture
def store(tmp_path):
    return FeedbackStore(f"sqlite:///{tmp_path / 'feedback.db'}")


def test_a_huge_id_is_no_entry(store):
    assert store.delete(10**30) is False and store.delete(0) is False
    with pytest.raises(KeyError):
        store.crop(10**30)


def test_cli_delete_with_a_huge_id_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FACEAGE_DB_URL", f"sqlite:///{tmp_path / 'feedback.db'}")
    assert main(["feedback", "delete", "--id", "9" * 30]) == 1
    err = capsys.readouterr().err
    assert "no feedback entry with id" in err and "Traceback" not in err


def test_an_age_of_thousands_of_digits_gets_a_plain_message():
    with pytest.raises(ValueError) as caught:
        check_true_age("9" * 5000)
    assert "sys." not in str(caught.value) and "from 0 to 120" in str(caught.value)
    assert len(str(caught.value)) < 100
    with pytest.raises(ValueError) as caught:
        check_true_age("x" * 5000)
    assert len(str(caught.value)) < 150
    assert check_true_age(" 0042 ") == 42


def test_a_folder_that_cannot_be_created_is_not_named_to_users(tmp_path):
    blocker = tmp_path / "secret-server-folder"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(StoreError) as caught:
        FeedbackStore(f"sqlite:///{blocker / 'db' / 'feedback.db'}")
    assert str(blocker) in str(caught.value)  # the log says where
    assert "secret-server-folder" not in caught.value.reason


def test_an_unknown_database_fault_is_not_quoted_to_users(store, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def fail(*args, **kwargs):
        raise OperationalError("SELECT", {}, Exception('could not connect to "db.internal" (10.0.0.5)'))

    monkeypatch.setattr(store, "_writing", fail)
    with pytest.raises(StoreError) as caught:
        store.delete(1)
    assert "db.internal" in str(caught.value) and "db.internal" not in caught.value.reason


def test_a_file_name_with_line_breaks_cannot_forge_error_lines(tmp_path, capsys):
    assert main(["data", "--data-dir", str(tmp_path / "missing\nfaceage: all photos read")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing\\nfaceage: all photos read" in err
