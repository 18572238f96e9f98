"""The package's import graph goes one way: inference <- data <- training, evaluation; the app, the
batch jobs and the CLI on top. Read from the source (every import, lazy ones included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "faceage_lib"
#: Each part, and the parts of faceage_lib it must never import.
FORBIDDEN = {
    "inference": {"data", "training", "evaluation", "app", "batch", "feedback", "video", "cli"},
    "data": {"training", "evaluation", "app", "batch", "feedback", "video", "cli"},
    "training": {"evaluation", "app", "batch", "feedback", "video", "cli"},
    "evaluation": {"training", "app", "batch", "feedback", "video", "cli"},
    "app": {"training", "evaluation", "cli"},
    "batch": {"training", "evaluation", "app", "cli"},
}


def imported_parts(path: Path, package: Path = PACKAGE) -> set[str]:
    """The faceage_lib parts (first component under ``package``) that the module at ``path`` imports."""
    module = path.relative_to(package.parent).with_suffix("").parts
    parts = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(module[: len(module) - node.level])
                names = base + (node.module.split(".") if node.module else [])
                targets = [names] if node.module else [base + [alias.name] for alias in node.names]
            else:
                targets = [(node.module or "").split(".")]
        elif isinstance(node, ast.Import):
            targets = [alias.name.split(".") for alias in node.names]
        else:
            continue
        parts |= {names[1] for names in targets if len(names) > 1 and names[0] == "faceage_lib"}
    return parts


@pytest.mark.parametrize("part", FORBIDDEN)
def test_each_part_imports_only_what_sits_below_it(part):
    wrong = {
        str(path.relative_to(PACKAGE)): sorted(imported_parts(path) & FORBIDDEN[part])
        for path in (PACKAGE / part).rglob("*.py")
    }
    assert {name: parts for name, parts in wrong.items() if parts} == {}


def test_the_reader_sees_lazy_relative_and_absolute_imports(tmp_path):
    package = tmp_path / "faceage_lib"
    (package / "training").mkdir(parents=True)
    bad = package / "training" / "bad.py"
    bad.write_text(
        "from . import model\nfrom ..data import crops\nimport faceage_lib.app.page\n"
        "def f():\n    from ..evaluation.metrics import age_scores\n"
    )
    assert imported_parts(bad, package) == {"training", "data", "app", "evaluation"}
