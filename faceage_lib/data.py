"""UTKFace: find or download it, parse labels from file names, de-duplicate, split.

The split is a pure function of the images' content: the same files always give the same
train / val / test assignment, whatever their order on disk or their folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DatasetError

KAGGLE_DATASET = "jangedoo/utkface-new"
SPLIT_FRACTIONS = {"test": 0.2, "val": 0.1}  # the rest is "train"
#: Strata with fewer images than this are pooled for the split (per-stratum rounding would give them no val).
MIN_STRATUM = 20
GENDERS = ("male", "female")  # UTKFace: 0 = male, 1 = female
RACES = ("White", "Black", "Asian", "Indian", "Others")
MAX_AGE = 116
#: Age groups used for stratifying the split and for per-group evaluation.
AGE_GROUP_EDGES = (0, 3, 10, 20, 30, 40, 50, 60, 70, 80)
AGE_GROUP_LABELS = ("0-2", "3-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80+")

_NAME = re.compile(r"^(?P<age>\d+)_(?P<gender>\d+)_(?:(?P<race>\d)_)?(?P<stamp>\d+)")
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def age_group(ages) -> np.ndarray:
    """Map ages to the labels of :data:`AGE_GROUP_LABELS`."""
    index = np.searchsorted(AGE_GROUP_EDGES, np.asarray(ages, dtype=float), side="right") - 1
    return np.asarray(AGE_GROUP_LABELS)[np.clip(index, 0, len(AGE_GROUP_LABELS) - 1)]


# --------------------------------------------------------------------------- labels


def parse_name(name: str) -> tuple[int, int, int | None]:
    """Parse ``age_gender_race_datetime.jpg.chip.jpg`` into (age, gender, race or None).

    Raises ``ValueError`` with the reason when the name carries no usable age and gender.
    The race field is optional: a few real UTKFace names lack it.
    """
    match = _NAME.match(name)
    if not match:
        raise ValueError("name does not start with age_gender_")
    age, gender = int(match["age"]), int(match["gender"])
    if not 1 <= age <= MAX_AGE:
        raise ValueError(f"age {age} outside 1-{MAX_AGE}")
    if gender not in (0, 1):
        raise ValueError(f"gender {gender} is not 0 or 1")
    race = int(match["race"]) if match["race"] is not None else None
    if race is not None and race >= len(RACES):
        race = None
    return age, gender, race


@dataclass
class UTKFace:
    """The labelled, de-duplicated images of one UTKFace folder and how they were obtained."""

    root: Path
    table: pd.DataFrame  # path, file, age, gender, race (nullable), hash, split
    files: int
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)
    duplicates_removed: int = 0
    manifest: Path | None = None

    def split(self, name: str) -> pd.DataFrame:
        """The rows of one split: "train", "val" or "test"."""
        return self.table[self.table["split"] == name].reset_index(drop=True)

    def summary(self) -> dict:
        """What was found, as a JSON-friendly dict (used by ``faceage data``)."""
        counts = self.table["split"].value_counts()
        return {
            "root": str(self.root),
            "files": self.files,
            "labelled": len(self.table) + self.duplicates_removed,
            "unique_images": len(self.table),
            "skipped": [{"file": f, "reason": r} for f, r in self.skipped],
            "duplicates_removed": self.duplicates_removed,
            "split": {s: int(counts.get(s, 0)) for s in ("train", "val", "test")},
            "manifest": str(self.manifest) if self.manifest else None,
        }


def scan_folder(root: Path) -> tuple[pd.DataFrame, int, list[tuple[str, str]]]:
    """Parse every image name under ``root``; return (table, number of files, skipped)."""
    rows, skipped, files = [], [], 0
    for path in sorted(p for p in Path(root).iterdir() if p.is_file()):
        if not path.name.lower().endswith(_IMAGE_SUFFIXES):
            continue
        files += 1
        try:
            age, gender, race = parse_name(path.name)
        except ValueError as reason:
            skipped.append((path.name, str(reason)))
            continue
        digest = hashlib.sha1(path.read_bytes()).hexdigest()
        rows.append((str(path), path.name, age, gender, race, digest))
    table = pd.DataFrame(rows, columns=["path", "file", "age", "gender", "race", "hash"])
    table["race"] = table["race"].astype("Int64")
    return table, files, skipped


def drop_duplicates(table: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Keep one row per distinct image content (the first by file name)."""
    unique = table.sort_values("file").drop_duplicates("hash", keep="first")
    return unique.sort_values("file").reset_index(drop=True), len(table) - len(unique)


def assign_splits(table: pd.DataFrame, seed: int = 0) -> pd.Series:
    """Deterministic split stratified by age group and gender.

    Within each (age group, gender) stratum, images are ordered by a seeded hash of their
    content; the first 20% go to test, the next 10% to val, the rest to train. Strata too small
    to hold a val image (under :data:`MIN_STRATUM` images; none in UTKFace) are split as one pool.
    """
    order_key = table["hash"].map(lambda h: hashlib.sha1(f"{seed}:{h}".encode()).hexdigest())
    strata = pd.Series(age_group(table["age"]), index=table.index) + "/" + table["gender"].astype(str)
    sizes = strata.map(strata.value_counts())
    strata[sizes < MIN_STRATUM] = "small strata"
    split = pd.Series("train", index=table.index, dtype=object)
    for _, members in order_key.groupby(strata):
        ranked = members.sort_values().index
        n_test = int(round(len(ranked) * SPLIT_FRACTIONS["test"]))
        n_val = int(round(len(ranked) * SPLIT_FRACTIONS["val"]))
        split[ranked[:n_test]] = "test"
        split[ranked[n_test : n_test + n_val]] = "val"
    return split


def load_utkface(data_dir: str | os.PathLike | None = None, work_dir: str | os.PathLike | None = None,
                 seed: int = 0) -> UTKFace:
    """Find (or download) UTKFace, label, de-duplicate and split it; write the split manifest.

    ``data_dir`` may be a folder, a ``.zip`` or a ``.tar.gz``; ``None`` downloads from Kaggle
    (or reuses an earlier download). The manifest goes to ``work_dir`` (default: :func:`work_home`).
    """
    work = Path(work_dir) if work_dir else work_home()
    root = find_images_folder(resolve_dataset(data_dir, work))
    table, files, skipped = scan_folder(root)
    if table.empty:
        raise DatasetError(f"{root} holds no UTKFace-named images (age_gender_race_date.jpg)")
    table, duplicates = drop_duplicates(table)
    table["split"] = assign_splits(table, seed)
    manifest = write_manifest(table, work / "utkface_split.csv")
    return UTKFace(root, table, files, skipped, duplicates, manifest)


def write_manifest(table: pd.DataFrame, path: Path) -> Path:
    """Write the split manifest CSV (one row per unique image)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False)
    return path


def read_manifest(path: str | os.PathLike) -> pd.DataFrame:
    """Read a manifest written by :func:`write_manifest`."""
    table = pd.read_csv(path, dtype={"hash": str})
    table["race"] = table["race"].astype("Int64")
    return table


# --------------------------------------------------------------------------- finding and downloading


def work_home() -> Path:
    """Where faceage keeps manifests, crop caches and extracted archives."""
    return Path(os.environ.get("FACEAGE_HOME", Path.home() / ".cache" / "faceage"))


def resolve_dataset(data_dir: str | os.PathLike | None, work: Path) -> Path:
    """A folder holding UTKFace: the given folder, an extracted archive, or a Kaggle download."""
    if data_dir is None:
        return download_utkface()
    source = Path(data_dir).expanduser()
    if source.is_dir():
        return source
    if source.is_file() and _is_archive(source):
        return extract_archive(source, work / "extracted")
    raise DatasetError(f"{source} is neither a folder nor a .zip / .tar.gz archive of UTKFace")


def find_images_folder(base: Path) -> Path:
    """The folder with UTKFace images inside ``base`` (prefers one named ``UTKFace``)."""
    candidates = [base, *sorted(p for p in base.rglob("*") if p.is_dir())]
    with_images = [(d, _count_images(d)) for d in candidates]
    with_images = [(d, n) for d, n in with_images if n]
    if not with_images:
        raise DatasetError(f"no images found in {base}")
    named = [(d, n) for d, n in with_images if d.name.lower() == "utkface"]
    pool = named or with_images
    return min(pool, key=lambda dn: (len(dn[0].relative_to(base).parts), -dn[1]))[0]


def _count_images(folder: Path) -> int:
    return sum(1 for p in folder.iterdir() if p.name.lower().endswith(_IMAGE_SUFFIXES))


def _is_archive(path: Path) -> bool:
    return path.name.lower().endswith((".zip", ".tar.gz", ".tgz", ".tar"))


def extract_archive(archive: Path, into: Path) -> Path:
    """Extract once into ``into/<name>-<fingerprint>``; later calls reuse the extracted folder.

    The fingerprint (path, size, modification time) keeps two archives of the same name, or a
    replaced archive, from reusing each other's folder.
    """
    stat = archive.stat()
    fingerprint = hashlib.sha1(f"{archive.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()
    target = into / f"{archive.name.split('.')[0]}-{fingerprint[:10]}"
    done = target / ".extracted"
    if done.exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    try:
        if archive.name.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as bundle:
                bundle.extractall(target)
        else:
            with tarfile.open(archive) as bundle:
                bundle.extractall(target, filter="data")
    except (zipfile.BadZipFile, tarfile.TarError, OSError) as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise DatasetError(f"cannot extract {archive}: {exc}") from None
    done.touch()
    return target


CREDENTIALS_HELP = (
    "Kaggle credentials are needed to download UTKFace. Do one of these:\n"
    "  - set the environment variables KAGGLE_USERNAME and KAGGLE_KEY;\n"
    "  - put kaggle.json (Kaggle > Settings > API > Create New Token) in ~/.kaggle/kaggle.json;\n"
    "  - in Colab, add the secrets KAGGLE_USERNAME and KAGGLE_KEY (key icon, left bar);\n"
    "or pass --data-dir with a folder or archive of UTKFace you already have."
)


def kaggle_credentials_source() -> str | None:
    """Where Kaggle credentials are: "environment", "kaggle.json", "colab secrets", or None.

    Colab secrets, when found, are copied to the environment for kagglehub. Nothing is printed.
    """
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return "environment"
    config_dir = Path(os.environ.get("KAGGLE_CONFIG_DIR", Path.home() / ".kaggle"))
    if (config_dir / "kaggle.json").is_file():
        _check_kaggle_json(config_dir / "kaggle.json")
        return "kaggle.json"
    try:
        from google.colab import userdata  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        username, key = userdata.get("KAGGLE_USERNAME"), userdata.get("KAGGLE_KEY")
    except Exception:  # secret missing or notebook access not granted
        return None
    os.environ["KAGGLE_USERNAME"], os.environ["KAGGLE_KEY"] = username, key
    return "colab secrets"


def _check_kaggle_json(path: Path) -> None:
    try:
        content = json.loads(path.read_text())
        if not (content.get("username") and content.get("key")):
            raise ValueError
    except (ValueError, AttributeError, OSError):
        raise DatasetError(
            f"{path} is not a valid kaggle.json: it must hold {{\"username\": ..., \"key\": ...}}. "
            "Download a fresh token from Kaggle > Settings > API > Create New Token."
        ) from None


def previous_download() -> Path | None:
    """A complete earlier kagglehub download of UTKFace, if there is one."""
    cache = Path(os.environ.get("KAGGLEHUB_CACHE", Path.home() / ".cache" / "kagglehub"))
    versions = cache / "datasets" / KAGGLE_DATASET / "versions"
    # newest version last: "10" after "9" (kagglehub's "<n>.complete" marker files are not folders)
    found = sorted((p for p in versions.glob("*") if p.is_dir()),
                   key=lambda p: (p.name.isdigit(), int(p.name) if p.name.isdigit() else 0, p.name)) \
        if versions.is_dir() else []
    for folder in reversed(found):
        if any(folder.rglob("*.jpg")):
            return folder
    return None


def download_utkface() -> Path:
    """Download UTKFace from Kaggle with kagglehub, or reuse an earlier download."""
    existing = previous_download()
    if existing is not None:
        return existing
    if kaggle_credentials_source() is None:
        raise DatasetError(CREDENTIALS_HELP)
    try:
        return Path(_kaggle_download(KAGGLE_DATASET))
    except Exception as exc:  # kagglehub raises many types; the message is what matters
        text = str(exc)
        if "401" in text or "403" in text or "Unauthorized" in text:
            raise DatasetError(f"Kaggle refused the credentials ({text}).\n{CREDENTIALS_HELP}") from None
        raise DatasetError(f"downloading {KAGGLE_DATASET} from Kaggle failed: {text}") from None


def _kaggle_download(handle: str) -> str:
    """The one network call: kagglehub's download (cached by kagglehub itself)."""
    import kagglehub

    return kagglehub.dataset_download(handle)
