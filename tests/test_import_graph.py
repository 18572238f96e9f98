"""faceage_lib's import graph, read from the source with ``ast``: every ``import`` and ``from ... import``,
relative, absolute, lazy (inside a function) or only for type checking, resolved to the faceage_lib module
it names. It has no circle, and the video half and the batch jobs stand on nothing of the app.

``from faceage_lib.x import y`` is an edge to the module ``faceage_lib.x.y`` where there is one, else to
``faceage_lib.x`` (the package's ``__init__`` or the module ``x.py``); ``import faceage_lib.x.y`` is an edge
to the longest part of the name that is a module. Importing ``faceage_lib.x.y`` also runs the packages'
``__init__`` above it, but that is no edge here: a package that imports its own submodules would
otherwise sit in a circle with each of them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "faceage_lib"
#: Modules (and packages, with everything under them) that must not reach the app.
BELOW_THE_APP = ("faceage_lib.video", "faceage_lib.batch", "faceage_lib.render")
APP = "faceage_lib.app"

Graph = dict[str, set[str]]


def module_names(package: Path) -> dict[str, Path]:
    """Every module of ``package`` by dotted name (a package by its own name, for its ``__init__``)."""
    names = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def _resolve(name: str, modules: Iterable[str]) -> str | None:
    """The longest prefix of the dotted ``name`` that is one of ``modules`` (None outside them)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in modules:
            return ".".join(parts[:end])
    return None


def imports_of(name: str, path: Path, modules: Iterable[str]) -> set[str]:
    """The modules of ``modules`` that the module ``name`` (at ``path``) imports."""
    modules = set(modules)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str | None] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets |= {_resolve(alias.name, modules) for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                targets.add(submodule if submodule in modules else _resolve(source, modules))
    return {target for target in targets if target and target != name}


def import_graph(package: Path = PACKAGE) -> Graph:
    modules = module_names(package)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: Graph) -> list[str] | None:
    """One circle of ``graph`` as a path that ends where it starts (``[a, b, a]``), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def reachable(graph: Graph, start: str) -> dict[str, list[str]]:
    """Every module ``start`` imports, directly or not, with the chain of imports that gets there."""
    chains = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in sorted(graph.get(node, ())):
            if target not in chains:
                chains[target] = chains[node] + [target]
                queue.append(target)
    return chains


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_the_import_graph_has_no_circle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "faceage_lib imports in a circle: " + " -> ".join(cycle or [])


def test_video_batch_and_render_never_reach_the_app():
    graph = import_graph()
    assert any(_within(name, "faceage_lib.render") for name in graph)
    wrong = []
    for name in sorted(graph):
        if any(_within(name, below) for below in BELOW_THE_APP):
            wrong += [" -> ".join(chain) for target, chain in reachable(graph, name).items() if _within(target, APP)]
    assert wrong == []


def is_circle(cycle: list[str] | None, members: set[str]) -> bool:
    return bool(cycle) and cycle[0] == cycle[-1] and set(cycle) == members and len(cycle) == len(members) + 1


def test_the_reader_resolves_every_kind_of_import(tmp_path):
    package = tmp_path / "faceage_lib"
    for folder in ("app", "training", "inference"):
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text("")
    (package / "__init__.py").write_text(
        "from .errors import E\ndef __getattr__(n):\n    from .inference import predictor\n"
    )
    (package / "errors.py").write_text("import os\n")
    (package / "inference" / "predictor.py").write_text("from ..errors import E\nfrom . import crop\n")
    (package / "inference" / "crop.py").write_text("from faceage_lib.inference.predictor import Face\n")
    (package / "training" / "__init__.py").write_text("from . import fit\n")
    (package / "training" / "fit.py").write_text(
        "import faceage_lib.app.page\nfrom faceage_lib import __version__\n"
        "def f():\n    from .export import best\n    from .. import inference\n"
    )
    (package / "training" / "export.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .fit import f\n"
    )
    (package / "app" / "page.py").write_text("")
    graph = import_graph(package)
    assert graph["faceage_lib"] == {"faceage_lib.errors", "faceage_lib.inference.predictor"}
    assert graph["faceage_lib.errors"] == set()
    assert graph["faceage_lib.inference.predictor"] == {"faceage_lib.errors", "faceage_lib.inference.crop"}
    assert graph["faceage_lib.training"] == {"faceage_lib.training.fit"}
    assert graph["faceage_lib.training.fit"] == {
        "faceage_lib.app.page",
        "faceage_lib",
        "faceage_lib.training.export",
        "faceage_lib.inference",
    }
    assert is_circle(find_cycle(graph), {"faceage_lib.inference.crop", "faceage_lib.inference.predictor"})
    graph["faceage_lib.inference.crop"] = set()
    assert is_circle(find_cycle(graph), {"faceage_lib.training.export", "faceage_lib.training.fit"})
    graph["faceage_lib.training.export"] = set()
    assert find_cycle(graph) is None
    assert reachable(graph, "faceage_lib.training")["faceage_lib.app.page"] == [
        "faceage_lib.training",
        "faceage_lib.training.fit",
        "faceage_lib.app.page",
    ]
