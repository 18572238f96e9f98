"""The model folder's manifest: its schema, the files with their SHA-256, the model's settings.

``manifest.json`` is written by :mod:`faceage_lib.training.export` and checked before anything
is loaded, so a missing, truncated, swapped or incompatible file fails with a clear
:class:`ModelFileError` instead of a crash. Schema 3 (2, plus the crop as data)::

    {"schema_version": 3,
     "files": {"model.tflite": {"sha256": ..., "bytes": ...}, ...},
     "input": {"shape": [null, S, S, 3], "dtype": "float32", "range": [0, 255],
               "crop": {"function": "faceage_lib.inference.crop.crop_face", "scale": 1.0, "align": "eyes",
                        "version": 1}},
     "output": {"shape": [null, 118], "age_probs": [0, 117], "p_female": 117},
     "interval_mass": ..., "gender_min_confidence": ..., ...,
     "faceage_version": "0.4.0", "git_commit": "<sha>[-dirty]" or null}

The last two say which faceage exported the model (recorded since 0.4; not needed to load it).

A model folder may hold *members*: further networks whose outputs are blended with the model's
(optional ``members`` entry; each file listed in ``files`` with its checksum like the model)::

    "members": {"gender": {"file": "gender.tflite",
                           "input": {"shape": [null, 32, 32, 3], "dtype": "float32", "range": [0, 255],
                                     "crop": {..., "align": "template", "template": [[x, y], ...]}},
                           "output": {"shape": [null, 2], "p_female": 0},
                           "weight": 0.5, ...}}

A gender member's ``p_female`` is output ``output.p_female`` of its own crops, and the face's
p_female is ``(1 - weight) * model's + weight * member's``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from ..config import MAX_AGE, cache_home, model_dir as default_model_dir
from ..errors import ModelFileError
from .crop import CropSpec

MANIFEST = "manifest.json"
#: The model's figures measured on the test split (written by benchmarks/accuracy.py, listed in the manifest).
MEASURED = "measured.json"
#: The SHA-256s already computed (in :func:`faceage_lib.config.cache_home`), each with the stamp of
#: the file it was computed on, so that a start does not hash a file unchanged since (7.7 MB: 5 ms).
HASH_CACHE = "verified_files.json"
SCHEMA_VERSION = 3
#: The settings loading needs, each with a check of its value.
REQUIRED = {
    "interval_mass": lambda v: isinstance(v, (int, float)) and 0 < v < 1,
    "gender_min_confidence": lambda v: isinstance(v, (int, float)) and 0.5 <= v <= 1,
    "input": lambda v: (
        isinstance(v, dict)
        and _is_crop_shape(v.get("shape"))
        and v.get("dtype") == "float32"
        and v.get("range") == [0, 255]
    ),
    "output": lambda v: (
        isinstance(v, dict)
        and v.get("shape") == [None, MAX_AGE + 2]
        and v.get("age_probs") == [0, MAX_AGE + 1]
        and v.get("p_female") == MAX_AGE + 1
    ),
}

#: Settings a model may lack (one exported before they existed), each checked when present.
OPTIONAL = {
    "p_under_18": lambda v: (
        isinstance(v, dict)
        and all(isinstance(v.get(k), (int, float)) and math.isfinite(v[k]) for k in ("slope", "offset"))
    ),
    "members": lambda v: isinstance(v, dict) and all(isinstance(k, str) and isinstance(e, dict) for k, e in v.items()),
}
#: The kinds of member this faceage can blend in, by their name in ``members``.
MEMBER_KINDS = ("gender",)


@dataclass(frozen=True)
class MemberSpec:
    """One member of a model folder, as its manifest entry describes it."""

    name: str
    file: str
    crop: CropSpec
    outputs: int  # the width of its output
    p_female: int  # which output is p_female
    weight: float  # its share of the face's p_female


def member_specs(manifest: dict, where: Path | str = MANIFEST) -> dict[str, MemberSpec]:
    """The members of ``manifest`` (none for a model without ``members``), each checked:
    :class:`ModelFileError` for one this faceage cannot run."""
    specs = {}
    for name, entry in (manifest.get("members") or {}).items():
        if name not in MEMBER_KINDS:
            raise ModelFileError(
                f"{where} has a member {name!r}; this faceage knows {', '.join(MEMBER_KINDS)}: install a newer faceage"
            )
        file, model_in, model_out, weight = (entry.get(k) for k in ("file", "input", "output", "weight"))
        shape = model_out.get("shape") if isinstance(model_out, dict) else None
        valid = (
            isinstance(file, str)
            and file
            and "/" not in file
            and "\\" not in file
            and file in manifest["files"]
            and isinstance(model_in, dict)
            and _is_crop_shape(model_in.get("shape"))
            and model_in.get("dtype") == "float32"
            and model_in.get("range") == [0, 255]
            and isinstance(shape, list)
            and len(shape) == 2
            and shape[0] is None
            and isinstance(shape[1], int)
            and isinstance(model_out.get("p_female"), int)
            and 0 <= model_out["p_female"] < shape[1]
            and isinstance(weight, (int, float))
            and 0 <= weight <= 1
        )
        if not valid or not isinstance(model_in, dict) or not isinstance(model_out, dict) or shape is None:
            raise ModelFileError(f"{where} has an invalid member {name!r}: {entry!r}")
        crop = CropSpec.from_manifest(model_in.get("crop"), int(model_in["shape"][1]))
        specs[name] = MemberSpec(name, file, crop, int(shape[1]), int(model_out["p_female"]), float(weight))
    return specs


def _is_crop_shape(shape) -> bool:
    return (
        isinstance(shape, list)
        and len(shape) == 4
        and shape[0] is None
        and shape[3] == 3
        and isinstance(shape[1], int)
        and shape[1] == shape[2]
        and shape[1] >= 8
    )


def sha256(path: Path) -> str:
    import hashlib  # here: a start whose files' hashes are cached (:func:`known_sha256`) needs none (5 ms)

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def known_sha256(path: Path) -> str:
    """``path``'s SHA-256, taken from :data:`HASH_CACHE` when the file's stamp (size, inode, and the
    times of its last write and of its last change of any kind, in ns) is the one it was hashed with;
    any write, copy or move over the file changes the stamp, and the file is hashed again. A cache
    that cannot be read or written is ignored."""
    status = path.stat()
    stamp = [status.st_size, status.st_ino, status.st_mtime_ns, status.st_ctime_ns]
    cache_file, key = cache_home() / HASH_CACHE, str(path.resolve())
    try:
        cache = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        cache = {}
    cache = cache if isinstance(cache, dict) else {}
    entry = cache.get(key)
    if isinstance(entry, dict) and entry.get("stamp") == stamp and isinstance(entry.get("sha256"), str):
        return entry["sha256"]
    cache[key] = {"stamp": stamp, "sha256": sha256(path)}
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        partial = cache_file.with_name(f"{cache_file.name}.{os.getpid()}.tmp")
        partial.write_text(json.dumps(cache))
        partial.replace(cache_file)  # atomic: a reader never sees half a file
    except OSError:
        pass
    return cache[key]["sha256"]


def model_io(crop: CropSpec | int) -> dict:
    """The ``input`` and ``output`` entries of a manifest for a model on ``crop`` crops (an int: the size)."""
    crop = CropSpec(crop) if isinstance(crop, int) else crop
    return {
        "input": {
            "shape": [None, crop.size, crop.size, 3],
            "dtype": "float32",
            "range": [0, 255],
            "crop": crop.to_manifest(),
        },
        "output": {"shape": [None, MAX_AGE + 2], "age_probs": [0, MAX_AGE + 1], "p_female": MAX_AGE + 1},
    }


def check_manifest(manifest: dict, where: Path) -> dict:
    """Raise :class:`ModelFileError` unless ``manifest`` follows schema :data:`SCHEMA_VERSION`."""
    version = manifest.get("schema_version") if isinstance(manifest, dict) else None
    if version != SCHEMA_VERSION:
        raise ModelFileError(
            f"{where} has manifest schema {version!r}; this faceage reads schema {SCHEMA_VERSION}. "
            "Re-export the model with this version (`faceage train`), or install the faceage that made it."
        )
    for key, valid in REQUIRED.items():
        if key not in manifest:
            raise ModelFileError(f"{where} lacks {key!r}: it is not a complete faceage model manifest")
        if not valid(manifest[key]):
            raise ModelFileError(f"{where} has an invalid {key!r}: {manifest[key]!r}")
    for key, valid in OPTIONAL.items():
        if key in manifest and not valid(manifest[key]):
            raise ModelFileError(f"{where} has an invalid {key!r}: {manifest[key]!r}")
    if not isinstance(manifest.get("files"), dict):
        raise ModelFileError(f"{where} lists no files")
    member_specs(manifest, where)
    return manifest


def crop_spec(manifest: dict) -> CropSpec:
    """The crop the model takes (:class:`ModelFileError` if this faceage cannot cut it)."""
    return CropSpec.from_manifest(manifest["input"].get("crop"), int(manifest["input"]["shape"][1]))


def verified_model(model_dir: str | os.PathLike | None = None, file: str = "model.tflite") -> tuple[Path, dict]:
    """Path of ``file`` in ``model_dir`` (default: :func:`faceage_lib.config.model_dir`) and its
    manifest, both checked."""
    folder = default_model_dir() if model_dir is None else Path(model_dir)
    if folder.is_file():  # a path to the model file itself
        folder, file = folder.parent, folder.name
    if not folder.exists():
        raise ModelFileError(f"{folder}: no such model folder")
    manifest = read_manifest(folder, "a faceage model folder")
    check_manifest(manifest, folder / MANIFEST)
    return verified_file(folder, manifest, file, "re-export the model with `faceage train`"), manifest


def read_manifest(folder: Path, what: str) -> dict:
    """The ``manifest.json`` of ``folder`` (a model folder, or the face detector's), as JSON with a
    ``files`` table; :class:`ModelFileError` if it is missing or damaged."""
    path = folder / MANIFEST
    if not path.is_file():
        raise ModelFileError(f"{path} is missing: {folder} is not {what}")
    try:
        manifest = json.loads(path.read_text())
    except (ValueError, OSError):
        raise ModelFileError(f"{path} is damaged: it is not valid JSON") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise ModelFileError(f"{path} lists no files")
    return manifest


def verified_file(folder: Path, manifest: dict, file: str, remedy: str = "reinstall faceage") -> Path:
    """Path of ``file`` in ``folder``, checked against the SHA-256 that ``manifest`` lists for it: the
    one integrity check of every file faceage loads (the model's and the face detector's), hashed again
    whenever the file changed (:func:`known_sha256`)."""
    expected = manifest["files"].get(file)
    if not isinstance(expected, dict) or "sha256" not in expected:
        raise ModelFileError(f"{folder / MANIFEST} does not list {file}")
    path = folder / file
    if not path.is_file():
        raise ModelFileError(f"{path} is missing (the manifest lists it); reinstall faceage or {remedy}")
    if known_sha256(path) != expected["sha256"]:
        raise ModelFileError(
            f"{path} does not match its checksum in {MANIFEST}: the file is corrupt or was "
            f"replaced. Reinstall faceage, or {remedy}."
        )
    return path
