"""The package's import graph goes one way: inference <- data <- training, evaluation; inference <-
render <- app, video; the app, the batch jobs and the CLI on top; and no module imports one that
imports it back, however far round; video files, the batch jobs and render reach nothing of the app,
not even through another module. Read from the source (every import, lazy ones included)."""

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
    "render": {"data", "training", "evaluation", "app", "batch", "feedback", "video", "cli"},
    "app": {"training", "evaluation", "cli"},
    "video": {"training", "evaluation", "app", "batch", "cli"},
    "batch": {"training", "evaluation", "app", "cli"},
}


def imported_names(path: Path, package: Path = PACKAGE) -> list[list[str]]:
    """Every name the module at ``path`` imports, as its dotted parts: ``from .x import y`` gives
    ``[..., "x", "y"]`` (a module ``y`` or a name in ``x``), ``import a.b`` gives ``["a", "b"]``."""
    module = path.relative_to(package.parent).with_suffix("").parts
    if module[-1] == "__init__":
        module = module[:-1] + ("",)  # a package's relative imports start from the package itself
    targets: list[list[str]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = list(module[: len(module) - node.level]) if node.level else []
            names = base + (node.module.split(".") if node.module else [])
            targets += [names + [alias.name] for alias in node.names]
        elif isinstance(node, ast.Import):
            targets += [alias.name.split(".") for alias in node.names]
    return targets


def imported_parts(path: Path, package: Path = PACKAGE) -> set[str]:
    """The faceage_lib parts (first component under ``package``) that the module at ``path`` imports."""
    return {names[1] for names in imported_names(path, package) if len(names) > 1 and names[0] == "faceage_lib"}


def module_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Each faceage_lib module (``a.b``; a package by its name) and the faceage_lib modules it imports:
    a name resolves to the longest dotted prefix that is a module."""
    files = {path: path.relative_to(package.parent).with_suffix("").parts for path in package.rglob("*.py")}
    modules = {".".join(parts[:-1] if parts[-1] == "__init__" else parts): path for path, parts in files.items()}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for names in imported_names(path, package):
            prefixes = (".".join(names[:end]) for end in range(len(names), 0, -1))
            target = next((prefix for prefix in prefixes if prefix in modules), None)
            if target and target != name:
                edges.add(target)
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as the path round it (first node repeated at the end), or ``None``."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return path[path.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[node] = "done"
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def reached(graph: dict[str, set[str]], start: str) -> dict[str, list[str]]:
    """Every module that importing ``start`` imports, however indirectly, with a chain of imports to it."""
    chains = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in sorted(graph.get(node, ())):
            if target not in chains:
                chains[target] = chains[node] + [target]
                queue.append(target)
    return chains


def test_no_module_imports_one_that_imports_it_back():
    cycle = find_cycle(module_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_the_circle_finder_finds_a_circle_through_lazy_and_package_imports(tmp_path):
    package = tmp_path / "faceage_lib"
    (package / "training").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "training" / "__init__.py").write_text("from .fit import train\n")
    (package / "training" / "fit.py").write_text("def train():\n    from .export import export_best\n")
    (package / "training" / "export.py").write_text("from . import fit\n")
    (package / "training" / "model.py").write_text("from faceage_lib.training import fit\n")
    graph = module_graph(package)
    assert graph["faceage_lib.training.model"] == {"faceage_lib.training.fit"}
    cycle = find_cycle(graph)
    assert cycle and cycle[0] == cycle[-1] and set(cycle) == {"faceage_lib.training.export", "faceage_lib.training.fit"}
    (package / "training" / "export.py").write_text("from ..training import runs\n")  # a module both use
    (package / "training" / "runs.py").write_text("")
    assert find_cycle(module_graph(package)) is None
    (package / "app").mkdir()
    (package / "app" / "__init__.py").write_text("")
    (package / "app" / "page.py").write_text("")
    (package / "training" / "runs.py").write_text("def f():\n    from ..app import page\n")
    assert reached(module_graph(package), "faceage_lib.training.model")["faceage_lib.app.page"] == [
        "faceage_lib.training.model",
        "faceage_lib.training.fit",
        "faceage_lib.training.export",
        "faceage_lib.training.runs",
        "faceage_lib.app.page",
    ]


@pytest.mark.parametrize("part", ["video", "batch", "render"])
def test_video_batch_and_render_reach_nothing_of_the_app_even_indirectly(part):
    graph = module_graph()
    starts = [name for name in graph if name == f"faceage_lib.{part}" or name.startswith(f"faceage_lib.{part}.")]
    assert starts
    chains = [
        " -> ".join(chain)
        for start in sorted(starts)
        for target, chain in reached(graph, start).items()
        if target == "faceage_lib.app" or target.startswith("faceage_lib.app.")
    ]
    assert chains == []


@pytest.mark.parametrize("part", FORBIDDEN)
def test_each_part_imports_only_what_sits_below_it(part):
    files = [PACKAGE / f"{part}.py"] if (PACKAGE / f"{part}.py").is_file() else (PACKAGE / part).rglob("*.py")
    wrong = {str(path.relative_to(PACKAGE)): sorted(imported_parts(path) & FORBIDDEN[part]) for path in files}
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
    bad.write_text("from .. import batch, __version__\nimport faceage_lib.video\nimport faceage_lib\n")  # a part itself
    assert imported_parts(bad, package) == {"batch", "__version__", "video"}
