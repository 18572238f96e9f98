"""Progress bars that show where someone can see them, and stay quiet where nothing can.

A terminal gets a text bar; a notebook a person looks at (Colab, Jupyter, VS Code) gets a widget;
a notebook run headless (nbclient, papermill, CI) or output sent to a file gets none, so that saved
outputs and logs hold no frozen "0%" lines. ``FACEAGE_PROGRESS=1`` or ``0`` overrides.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T")

#: Set by the front ends that render notebook widgets for a person (not by headless runners).
NOTEBOOK_FRONTENDS = ("JPY_SESSION_NAME", "VSCODE_PID")


def where_shown() -> str | None:
    """``"notebook"``, ``"terminal"``, or ``None`` where a progress bar would not be seen."""
    forced = os.environ.get("FACEAGE_PROGRESS")
    if forced == "0":
        return None
    in_kernel = "ipykernel" in sys.modules
    if "google.colab" in sys.modules or (in_kernel and any(os.environ.get(v) for v in NOTEBOOK_FRONTENDS)):
        return "notebook"
    if forced == "1":
        return "notebook" if in_kernel else "terminal"
    return "terminal" if not in_kernel and sys.stderr.isatty() else None


def progress(items: Iterable[T], desc: str, unit: str = "img", total: int | None = None) -> Iterable[T]:
    """``items``, with a progress bar where someone can see it (see :func:`where_shown`)."""
    shown = where_shown()
    if shown is None:
        return items
    if shown == "notebook":
        from tqdm.notebook import tqdm
    else:
        from tqdm import tqdm
    return tqdm(items, desc=desc, unit=unit, total=total, file=None if shown == "notebook" else sys.stderr)
