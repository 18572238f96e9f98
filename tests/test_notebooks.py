"""The Colab notebooks: committed clean, and each one runs top to bottom on a tiny dataset.

Each notebook's ``parameters`` cell is replaced with test values (the generated UTKFace folder of
``utkface_dir``, a temporary work folder, 1 epoch at 32 px on a few dozen images) and the notebook is
executed with nbclient in a kernel that runs this interpreter. The evaluation and demo notebooks
use the model that the training notebook exported. Nothing needs the network.
"""

from __future__ import annotations

import ast
import json
import os
import socket
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
sys.path.insert(0, str(NOTEBOOK_DIR))
import set_repository  # noqa: E402  (notebooks/set_repository.py)

NAMES = ("01_explore", "02_train", "03_evaluate", "04_demo")
REPOSITORY = set_repository.repository()  # pyproject.toml's [project.urls] Repository
BADGE = "https://colab.research.google.com/github/" + REPOSITORY + "/blob/main/notebooks/{}.ipynb"
INSTALL = '%pip install -q "faceage{} @ git+https://github.com/' + REPOSITORY + '"'
#: The parameters each notebook must define (the test replaces exactly these).
PARAMETERS = {
    "01_explore": {"DATA_DIR", "WORK_DIR"},
    "02_train": {"DATA_DIR", "WORK_DIR", "BACKBONE", "PRETRAINED", "IMG_SIZE", "EPOCHS", "LIMIT"},
    "03_evaluate": {"DATA_DIR", "WORK_DIR", "MODEL_DIR", "FLIP"},
    "04_demo": {"MODEL_DIR", "SHARE", "PORT"},
}
CELL_TIMEOUT = 300  # seconds; a cell of the test runs takes a few at most


def read(name: str):
    return nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)


def parameter_cells(notebook) -> list:
    return [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]


# --------------------------------------------------------------------------- as committed


@pytest.mark.parametrize("name", NAMES)
def test_committed_without_outputs(name):
    notebook = read(name)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: a code cell has outputs; clear them before committing"
            assert cell.execution_count is None, f"{name}: execution counts must be null"


@pytest.mark.parametrize("name", NAMES)
def test_one_parameter_cell_of_plain_assignments(name):
    cells = parameter_cells(read(name))
    assert len(cells) == 1 and cells[0].cell_type == "code"
    tree = ast.parse(cells[0].source)
    assert all(isinstance(node, ast.Assign) for node in tree.body), "only assignments: they are replaced"
    assigned = {target.id for node in tree.body for target in node.targets}
    assert assigned == PARAMETERS[name]


@pytest.mark.parametrize("name", NAMES)
def test_colab_badge_and_install_cell(name):
    notebook = read(name)
    title = notebook.cells[0]
    assert title.cell_type == "markdown" and title.source.startswith("# ")
    assert BADGE.format(name) in title.source
    assert "colab-badge.svg" in title.source
    install = [cell for cell in notebook.cells if cell.cell_type == "code" and "%pip install" in cell.source]
    assert len(install) == 1
    assert 'find_spec("faceage_lib") is None' in install[0].source
    assert INSTALL.format("" if name == "04_demo" else "[train]") in install[0].source


@pytest.mark.parametrize("name", NAMES)
def test_every_address_is_pyprojects(name):
    assert set_repository.addresses(NOTEBOOK_DIR / f"{name}.ipynb") == {REPOSITORY}


def test_a_fork_changes_the_address_in_one_place(tmp_path):
    copy = tmp_path / "01_explore.ipynb"
    copy.write_bytes((NOTEBOOK_DIR / "01_explore.ipynb").read_bytes())
    assert set_repository.set_repository(copy, "someone/my-fork") is True
    assert set_repository.addresses(copy) == {"someone/my-fork"}
    text = copy.read_text()
    assert "github/someone/my-fork/blob/main/notebooks/01_explore.ipynb" in text
    assert "git+https://github.com/someone/my-fork" in text and "faceage/faceage" not in text
    assert set_repository.set_repository(copy, "someone/my-fork") is False


# --------------------------------------------------------------------------- running them


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory):
    """A ``python3`` kernel spec that runs this interpreter, and a private faceage home."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (faceage tests)",
                "language": "python",
            }
        )
    )
    with pytest.MonkeyPatch.context() as env:  # the kernels inherit this environment
        env.setenv("JUPYTER_PATH", os.pathsep.join(filter(None, [str(root), os.environ.get("JUPYTER_PATH")])))
        env.setenv("FACEAGE_HOME", str(root / "faceage_home"))
        env.setenv("KAGGLEHUB_CACHE", str(root / "kagglehub"))
        env.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
        env.setenv("GRADIO_ANALYTICS_ENABLED", "False")
        yield root


def execute(name: str, parameters: dict, folder: Path, extra_cells: tuple[str, ...] = ()):
    """Run the notebook with its parameter cell replaced; returns the executed notebook."""
    notebook = read(name)
    (cell,) = parameter_cells(notebook)
    cell.source = "\n".join(f"{key} = {value!r}" for key, value in parameters.items())
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in extra_cells]
    folder.mkdir(parents=True, exist_ok=True)
    client = nbclient.NotebookClient(
        notebook, kernel_name="python3", timeout=CELL_TIMEOUT, resources={"metadata": {"path": str(folder)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on any error
    return notebook


def outputs(notebook, kind: str) -> list:
    """All outputs with data of MIME type ``kind`` (e.g. "image/png")."""
    return [
        out["data"][kind]
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if kind in out.get("data", {})
    ]


def text(notebook) -> str:
    """Everything the notebook printed or displayed as text."""
    parts = []
    for cell in notebook.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts.append(out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def trained(kernel_env, utkface_dir, tmp_path_factory):
    """The training notebook, run once: (executed notebook, its work folder)."""
    work = tmp_path_factory.mktemp("train_work")
    notebook = execute(
        "02_train",
        {
            "DATA_DIR": str(utkface_dir["folder"]),
            "WORK_DIR": str(work),
            "BACKBONE": "compact",
            "PRETRAINED": False,
            "IMG_SIZE": 32,
            "EPOCHS": 1,
            "LIMIT": 64,
        },
        work,
    )
    return notebook, work


@pytest.mark.slow
def test_explore_notebook(kernel_env, utkface_dir, tmp_path):
    from conftest import MALFORMED

    notebook = execute(
        "01_explore",
        {"DATA_DIR": str(utkface_dir["folder"]), "WORK_DIR": str(tmp_path)},
        tmp_path,
        extra_cells=("import sys; print(sys.executable)",),
    )
    assert notebook.cells[-1].outputs[0]["text"].strip() == sys.executable  # the kernel ran this venv
    printed = text(notebook)
    assert all(name in printed for name in MALFORMED), "the skipped names are listed"
    assert f"{utkface_dir['duplicates']} duplicates removed" in printed
    assert len(outputs(notebook, "image/png")) == 4  # histogram, counts, heatmap, sample faces
    assert (tmp_path / "utkface_split.csv").is_file()


@pytest.mark.slow
def test_train_notebook(trained):
    notebook, work = trained
    model = work / "model-compact-32"
    for name in ("model.tflite", "model.keras", "manifest.json", "training_log.csv"):
        assert (model / name).is_file(), name
    assert (work / "model-compact-32.zip").is_file()
    assert json.loads((model / "manifest.json").read_text())["input"]["shape"][1] == 32
    assert len(outputs(notebook, "image/png")) == 1  # the training curves
    assert "Validation age MAE was best at epoch 1" in text(notebook)


@pytest.mark.slow
def test_evaluate_notebook(trained, utkface_dir, tmp_path):
    _, work = trained
    notebook = execute(
        "03_evaluate",
        {
            "DATA_DIR": str(utkface_dir["folder"]),
            "WORK_DIR": str(tmp_path),
            "MODEL_DIR": str(work / "model-compact-32"),
            "FLIP": False,
        },
        tmp_path,
    )
    printed = text(notebook)
    assert "age MAE" in printed and "gender accuracy" in printed  # metrics.format_metrics
    assert "largest errors" in printed  # the readings printed with the figures
    assert len(outputs(notebook, "image/png")) == 6  # every evaluation figure


@pytest.mark.slow
def test_demo_notebook(trained, tmp_path):
    _, work = trained
    check_and_close = (
        "import urllib.request\n"
        "with urllib.request.urlopen(demo.local_url, timeout=30) as page:\n"
        "    print('app answered', page.status)\n"
        "demo.close()"
    )
    notebook = execute(
        "04_demo",
        {"MODEL_DIR": str(work / "model-compact-32"), "SHARE": False, "PORT": free_port()},
        tmp_path,
        extra_cells=(check_and_close,),
    )
    printed = text(notebook)
    assert "app answered 200" in printed
    assert "share URL: None" in printed
    assert outputs(notebook, "text/html"), "the app and the faces table are displayed"
    assert outputs(notebook, "image/png"), "the photo with its boxes is displayed"
