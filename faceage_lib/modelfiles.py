"""The model folder's manifest: what each file is, its SHA-256, and the model's settings.

``manifest.json`` is written by export and checked before anything is loaded, so a missing,
truncated or swapped file fails with a clear :class:`ModelFileError` instead of a crash.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .errors import ModelFileError

MANIFEST = "manifest.json"
#: The shipped model in a source checkout (or a Hugging Face Space): the repository's models/.
CHECKOUT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(model_dir: Path, files: list[str], settings: dict) -> Path:
    """Record ``files`` (names inside ``model_dir``) with their checksums, plus ``settings``."""
    entries = {name: {"sha256": sha256(model_dir / name), "bytes": (model_dir / name).stat().st_size}
               for name in files}
    path = model_dir / MANIFEST
    path.write_text(json.dumps({"files": entries, **settings}, indent=2) + "\n")
    return path


def verified_model(model_dir: str | os.PathLike | None = None, file: str = "model.tflite") -> tuple[Path, dict]:
    """Path of ``file`` in ``model_dir`` (default: the shipped model) and the manifest, checked."""
    folder = Path(model_dir) if model_dir else default_model_dir()
    if folder.is_file():  # a path to the model file itself
        folder, file = folder.parent, folder.name
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise ModelFileError(f"{manifest_path} is missing: {folder} is not a faceage model folder")
    try:
        manifest = json.loads(manifest_path.read_text())
        expected = manifest["files"][file]
    except (ValueError, KeyError, TypeError):
        raise ModelFileError(f"{manifest_path} is damaged or does not list {file}") from None
    path = folder / file
    if not path.is_file():
        raise ModelFileError(f"{path} is missing (the manifest lists it); reinstall or re-export the model")
    if sha256(path) != expected["sha256"]:
        raise ModelFileError(
            f"{path} does not match its checksum in {MANIFEST}: the file is corrupt or was replaced. "
            "Reinstall faceage, or re-export the model with `faceage train`."
        )
    return path, manifest


def default_model_dir() -> Path:
    """``$FACEAGE_MODEL_DIR`` if set, else the shipped model: the checkout's ``models/``,
    or the installed data package ``faceage_models`` after a regular ``pip install``."""
    if os.environ.get("FACEAGE_MODEL_DIR"):
        return Path(os.environ["FACEAGE_MODEL_DIR"])
    return shipped_folder(CHECKOUT_MODEL_DIR, "faceage_models", MANIFEST)


def shipped_folder(checkout: Path, package: str, marker: str) -> Path:
    """A data folder that ships with faceage: ``checkout`` in a source checkout (or a Space),
    else the installed data package ``package`` (pyproject maps the folder to it)."""
    if (checkout / marker).is_file():
        return checkout
    from importlib.util import find_spec

    spec = find_spec(package)  # a namespace package: look at its folders directly
    for folder in (spec.submodule_search_locations or []) if spec else []:
        if (Path(folder) / marker).is_file():
            return Path(folder)
    return checkout
