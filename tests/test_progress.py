"""faceage_lib.progress: a bar where someone sees it, none in headless notebook runs or logs."""

from __future__ import annotations

import sys

import pytest

from faceage_lib import progress


@pytest.fixture
def clean(monkeypatch):
    for name in ("FACEAGE_PROGRESS", *progress.NOTEBOOK_FRONTENDS):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    return monkeypatch


def test_a_headless_notebook_gets_no_bar(clean):
    clean.setitem(sys.modules, "ipykernel", sys)  # a kernel, no front end
    assert progress.where_shown() is None
    items = [1, 2]
    assert progress.progress(items, "x") is items


def test_colab_and_jupyter_get_a_widget(clean):
    clean.setitem(sys.modules, "ipykernel", sys)
    clean.setenv("JPY_SESSION_NAME", "demo.ipynb")
    assert progress.where_shown() == "notebook"
    clean.delenv("JPY_SESSION_NAME")
    clean.setitem(sys.modules, "google.colab", sys)
    assert progress.where_shown() == "notebook"


def test_a_terminal_gets_text_and_the_override_wins(clean):
    clean.delitem(sys.modules, "ipykernel", raising=False)
    clean.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert progress.where_shown() == "terminal"
    clean.setenv("FACEAGE_PROGRESS", "0")
    assert progress.where_shown() is None
