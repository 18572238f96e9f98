"""Copy the repository's address from pyproject.toml into the notebooks.

    python notebooks/set_repository.py

A fork changes ``[project.urls] Repository`` in pyproject.toml once, then runs this: every
"Open in Colab" badge and link, and every ``%pip install ... git+https://github.com/...`` cell,
then points at the fork. Only those addresses are touched; outputs stay cleared.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
#: A GitHub "owner/name" inside a Colab link or a pip install address.
ADDRESS = re.compile(
    r"(colab\.research\.google\.com/github/|git\+https://github\.com/)([\w.-]+/[\w.-]+?)(?=/blob/|\"|$)"
)


def repository() -> str:
    """``owner/name`` of ``[project.urls] Repository`` in pyproject.toml."""
    url = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    return url.removeprefix("https://github.com/").strip("/")


def addresses(notebook: Path) -> set[str]:
    """Every ``owner/name`` the notebook's cells point at."""
    cells = json.loads(notebook.read_text())["cells"]
    return {match[1] for cell in cells for line in cell["source"] for match in ADDRESS.findall(line)}


def set_repository(notebook: Path, owner_name: str) -> bool:
    """Point every address in ``notebook`` at ``owner_name``; True if the file changed."""
    content = json.loads(notebook.read_text())
    for cell in content["cells"]:
        cell["source"] = [ADDRESS.sub(lambda m: m[1] + owner_name, line) for line in cell["source"]]
    text = json.dumps(content, indent=1, ensure_ascii=False) + "\n"
    changed = text != notebook.read_text()
    notebook.write_text(text)
    return changed


def main() -> None:
    owner_name = repository()
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        print(f"{notebook.name}: {'updated' if set_repository(notebook, owner_name) else 'already'} {owner_name}")


if __name__ == "__main__":
    main()
