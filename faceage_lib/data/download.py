"""Where UTKFace comes from: a folder, an archive (extracted once), or Kaggle via kagglehub.

The one network call is :func:`_kaggle_download`; everything else works offline.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import zipfile
from pathlib import Path

from ..errors import DatasetError

KAGGLE_DATASET = "jangedoo/utkface-new"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


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
    return sum(1 for p in folder.iterdir() if p.name.lower().endswith(IMAGE_SUFFIXES))


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
    "Kaggle credentials are needed to download UTKFace (Kaggle > Settings > API). Do one of these:\n"
    "  - set the environment variable KAGGLE_API_TOKEN (Kaggle's API token), or KAGGLE_USERNAME and KAGGLE_KEY;\n"
    "  - put kaggle.json (Kaggle > Settings > API > Create Legacy API Key) in ~/.kaggle/kaggle.json;\n"
    "  - in Colab, add the secret KAGGLE_API_TOKEN, or KAGGLE_USERNAME and KAGGLE_KEY (key icon, left bar);\n"
    "or pass --data-dir with a folder or archive of UTKFace you already have."
)
#: The environment variables of each kind of Kaggle credential: the API token, or username and key.
CREDENTIAL_VARIABLES = (("KAGGLE_API_TOKEN",), ("KAGGLE_USERNAME", "KAGGLE_KEY"))


def kaggle_credentials_source() -> str | None:
    """Where Kaggle credentials are: "environment", "kaggle.json", "colab secrets", or None.

    Colab secrets, when found, are copied to the environment for kagglehub. Nothing is printed.
    """
    if any(all(os.environ.get(name) for name in names) for names in CREDENTIAL_VARIABLES):
        return "environment"
    config_dir = Path(os.environ.get("KAGGLE_CONFIG_DIR", Path.home() / ".kaggle"))
    if (config_dir / "kaggle.json").is_file():
        _check_kaggle_json(config_dir / "kaggle.json")
        return "kaggle.json"
    secrets = _colab_secrets()
    if secrets is None:
        return None
    os.environ.update(secrets)
    return "colab secrets"


def _colab_secrets() -> dict[str, str] | None:
    """The first complete kind of Kaggle credential among Colab's secrets, if any."""
    try:
        from google.colab import userdata  # type: ignore[import-not-found]
    except ImportError:
        return None
    for names in CREDENTIAL_VARIABLES:
        try:
            values = {name: userdata.get(name) for name in names}
        except Exception:  # secret missing or notebook access not granted
            continue
        if all(values.values()):
            return values
    return None


def kaggle_setup(data_dir=None, ask: bool = True) -> str:
    """What the notebooks' credentials cell does: say where UTKFace will come from, and in Colab,
    when no credentials are found, ask for kaggle.json (written readable by the user only)."""
    if data_dir is not None:
        return f"No download needed: {data_dir}"
    if (earlier := previous_download()) is not None:
        return f"No download needed: {earlier}"
    source = kaggle_credentials_source()
    if source is None and ask and _in_colab():
        source = _upload_kaggle_json()
    return f"Kaggle credentials: {source}" if source else f"No Kaggle credentials found.\n{CREDENTIALS_HELP}"


def _in_colab() -> bool:
    import sys

    return "google.colab" in sys.modules


def _upload_kaggle_json() -> str | None:
    from google.colab import files  # type: ignore[import-not-found]

    print("No Kaggle credentials found: upload kaggle.json (Kaggle > Settings > API).")
    for token in files.upload().values():
        path = Path.home() / ".kaggle" / "kaggle.json"
        path.parent.mkdir(mode=0o700, exist_ok=True)
        path.write_bytes(token)
        path.chmod(0o600)
    return kaggle_credentials_source()


def _check_kaggle_json(path: Path) -> None:
    try:
        content = json.loads(path.read_text())
        if not (content.get("username") and content.get("key")):
            raise ValueError
    except (ValueError, AttributeError, OSError):
        raise DatasetError(
            f'{path} is not a valid kaggle.json: it must hold {{"username": ..., "key": ...}}. '
            "Download a fresh token from Kaggle > Settings > API > Create New Token."
        ) from None


def previous_download() -> Path | None:
    """A complete earlier kagglehub download of UTKFace, if there is one."""
    cache = Path(os.environ.get("KAGGLEHUB_CACHE", Path.home() / ".cache" / "kagglehub"))
    versions = cache / "datasets" / KAGGLE_DATASET / "versions"
    # newest version last: "10" after "9" (kagglehub's "<n>.complete" marker files are not folders)
    found = (
        sorted(
            (p for p in versions.glob("*") if p.is_dir()),
            key=lambda p: (p.name.isdigit(), int(p.name) if p.name.isdigit() else 0, p.name),
        )
        if versions.is_dir()
        else []
    )
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
