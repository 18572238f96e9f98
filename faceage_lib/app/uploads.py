"""Uploads: the photo a user sends, however it arrives (a file, a path or a ``data:`` URL), read as
bytes and refused over the size limit before anything is decoded; and the upload store, kept within
an age and a size by :class:`UploadSweeper`, from start-up on (so a crash leaves nothing for long)."""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from ..errors import ImageError

#: The largest photo accepted, however it arrives (upload, path or data: URL), in bytes.
MAX_FILE_SIZE = 25 * 1024 * 1024
#: Gradio's cache (uploads, annotated photos): checked every CACHE_CHECK_S, files older than
#: CACHE_MAX_AGE_S deleted, so none is kept longer than their sum (an hour).
CACHE_CHECK_S, CACHE_MAX_AGE_S = 600, 3000
#: The upload store's size at most: past it, the oldest files go first. The sweeper looks every
#: SWEEP_EVERY_S, at every file in the store (also those an earlier run left).
MAX_STORE_BYTES, SWEEP_EVERY_S = 1024 * 2**20, 30
#: Per-session state (the faces offered for feedback, a live tracker) expires after this many seconds.
STATE_TTL_S = 1800
#: Browser sessions whose state is kept at most (Gradio's default is 10,000); the oldest go first.
MAX_SESSIONS = 500

log = logging.getLogger(__name__)


def read_upload(image: Any) -> Any:
    """The bytes of a ``data:`` URL or of a file given by path (so that messages say "the uploaded
    data", not a temp path), refused over :data:`MAX_FILE_SIZE` before anything is decoded."""
    if isinstance(image, str) and image.startswith("data:"):
        return _decode_data_url(image)
    if isinstance(image, (str, os.PathLike)) and Path(image).is_file():
        try:
            _check_size(Path(image).stat().st_size)
            return Path(image).read_bytes()
        except OSError:
            raise ImageError("the uploaded file could not be read; please upload it again") from None
    return image


def _decode_data_url(url: str) -> bytes:
    """The bytes of a base64 ``data:`` URL; its length is checked first, so a huge one costs nothing."""
    header, _, encoded = url.partition(",")
    _check_size(len(encoded) // 4 * 3)  # what the base64 text decodes to, near enough
    if not header.endswith(";base64"):
        raise ImageError("the uploaded data is not a base64 data: URL")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ImageError("the uploaded data is not valid base64") from None


def _check_size(size: int) -> None:
    if size > MAX_FILE_SIZE:
        raise ImageError(f"the photo is {size / 2**20:.0f} MB, more than the {MAX_FILE_SIZE // 2**20} MB limit")


def upload_folder() -> Path:
    """The folder Gradio keeps uploads in: ``$GRADIO_TEMP_DIR``, set to a folder of faceage's own
    (``faceage-uploads`` in the system's temp folder) if unset, so that sweeping it touches no other app."""
    os.environ.setdefault("GRADIO_TEMP_DIR", str(Path(tempfile.gettempdir()) / "faceage-uploads"))
    return Path(os.environ["GRADIO_TEMP_DIR"])


class UploadSweeper:
    """Deletes every file of ``folder``'s cache folders (Gradio's and faceage's: hex names) older than
    ``max_age_s``, then the oldest while they hold more than ``max_bytes``; :meth:`start` sweeps now
    and then every ``every_s`` seconds. Anything else in ``folder`` is left alone."""

    def __init__(
        self,
        folder: Path,
        max_age_s: float = CACHE_MAX_AGE_S,
        max_bytes: int = MAX_STORE_BYTES,
        every_s: float = SWEEP_EVERY_S,
    ):
        self.folder, self.max_age_s, self.max_bytes, self.every_s = folder, max_age_s, max_bytes, every_s

    def sweep(self) -> int:
        """One pass; returns the number of files deleted."""
        files = []
        for path in (path for folder in self._cache_folders() for path in folder.rglob("*")):
            try:
                if path.is_file() and not path.is_symlink():
                    stat = path.stat()
                    files.append((stat.st_mtime, stat.st_size, path))
            except OSError:  # deleted meanwhile
                continue
        files.sort()
        now, total, deleted = time.time(), sum(size for _, size, _ in files), 0
        for mtime, size, path in files:
            if now - mtime <= self.max_age_s and total <= self.max_bytes:
                break
            try:
                path.unlink()
                total, deleted = total - size, deleted + 1
            except OSError:
                continue
        self._remove_empty_folders()
        return deleted

    def start(self) -> None:
        """Sweep now (what an earlier run left), then in a daemon thread every ``every_s`` seconds."""
        self.sweep()
        threading.Thread(target=self._run, name="faceage-upload-sweeper", daemon=True).start()

    def _run(self) -> None:
        while True:
            time.sleep(self.every_s)
            try:
                self.sweep()
            except Exception:  # the sweeper must outlive any one bad pass
                log.exception("sweeping the upload store failed")

    def _cache_folders(self) -> list[Path]:
        """The folders Gradio (a SHA-256) and faceage (a UUID) name after what they hold."""
        try:
            return [p for p in self.folder.iterdir() if p.is_dir() and re.fullmatch(r"[0-9a-f]{32,64}", p.name)]
        except OSError:  # no folder yet
            return []

    def _remove_empty_folders(self) -> None:
        inner = [p for folder in self._cache_folders() for p in folder.rglob("*") if p.is_dir()]
        folders = sorted(inner + self._cache_folders(), key=lambda p: len(p.parts), reverse=True)
        for folder in folders:
            try:
                if time.time() - folder.stat().st_mtime > self.every_s:
                    folder.rmdir()  # only if empty
            except OSError:
                continue


_SWEPT: set[Path] = set()


def start_sweeping(folder: Path) -> None:
    """Start one :class:`UploadSweeper` for ``folder`` in this process (once, however many apps are built)."""
    if folder not in _SWEPT:
        _SWEPT.add(folder)
        UploadSweeper(folder).start()
