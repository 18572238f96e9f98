"""The README's reliability and load tables are what benchmarks/readme_tables.py makes of the committed results."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_tables_come_from_the_results_files():
    spec = importlib.util.spec_from_file_location("readme_tables", ROOT / "benchmarks" / "readme_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    readme = (ROOT / "README.md").read_text()
    assert module.with_tables(readme, module.tables()) == readme, "run python benchmarks/readme_tables.py"
