"""Crowd mode: many photos at once (files, or .zip archives read in memory), one table of every face.

Plain Python, pandas and the standard ``zipfile``: nothing from an archive is written to disk,
its member names are only shown, and what is read is capped (:data:`MAX_FILES` files,
:data:`MAX_TOTAL_BYTES` in all, :data:`MAX_TOTAL_PIXELS` decoded). A file that is skipped or cannot be
read gets a row saying why.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
from PIL import Image

from ..config import AGE_GROUP_LABELS, age_group
from ..errors import ImageError
from ..inference.images import IMAGE_EXTENSIONS, open_photo
from ..inference.predictor import DECODE_PIXELS, Predictor
from .faces import face_cells

#: Files read from one request at most (photos uploaded plus photos inside archives).
MAX_FILES = 100
#: Bytes read from one request at most, archives' members counted uncompressed.
MAX_TOTAL_BYTES = 200 * 2**20
#: Pixels decoded for one request at most, counted from each photo's header before it is decoded
#: (25 phone photos of 12 MP; a 12 KB zip of 100 GIFs of 8000 x 8000 would be 6,400 MP of work).
MAX_TOTAL_PIXELS = 300_000_000
HEADERS = ["File", "Face", "Box", "Age", "Range", "Gender", "Prob.", "Under 18", "Note"]
#: Face crops shown in the gallery at most, and their side in pixels.
MAX_GALLERY, GALLERY_SIDE = 200, 128
GENDER_ORDER = ("female", "male", "uncertain")


@dataclass
class Photo:
    """One file to analyse: its name as shown, and its bytes or why it was not read."""

    name: str
    data: bytes | None = None
    problem: str = ""


@dataclass
class Budget:
    """What is left of one request's caps on files, bytes and decoded pixels."""

    files: int
    bytes: int
    pixels: int

    @classmethod
    def full(cls) -> Budget:
        return cls(MAX_FILES, MAX_TOTAL_BYTES, MAX_TOTAL_PIXELS)


@dataclass
class CrowdResult:
    """Every row of the table, and (age, gender) of each face found, for the chart."""

    rows: list[list] = field(default_factory=list)
    ages: list[tuple[float, str]] = field(default_factory=list)
    crops: list[tuple[np.ndarray, str]] = field(default_factory=list)
    photos: int = 0
    problems: int = 0

    def table(self) -> pd.DataFrame:
        """Every row, every column (the CSV)."""
        table = pd.DataFrame(self.rows, columns=HEADERS)
        table["Face"] = table["Face"].astype("Int64")  # whole numbers, blank on note rows (not 1.0)
        return table

    def shown_table(self) -> pd.DataFrame:
        """The table as the page shows it, narrow enough for a phone: the file with the face's number,
        age with its range and gender with its probability in one cell each, no box (the CSV has every
        column apart)."""
        table = self.table()

        def joined(first: str, second: str) -> list[str]:
            return [f"{a} ({b})" if a else "" for a, b in zip(table[first], table[second])]

        return pd.DataFrame(
            {
                "File (face)": [
                    name if pd.isna(face) else f"{name} ({face})" for name, face in zip(table["File"], table["Face"])
                ],
                "Age (range)": joined("Age", "Range"),
                "Gender (prob.)": joined("Gender", "Prob."),
                "Under 18": table["Under 18"],
                "Note": table["Note"],
            }
        )


def analyze_crowd(
    predictor: Predictor,
    paths: Iterable[str | os.PathLike],
    max_file_size: int,
    progress: Callable[[int, str], None] | None = None,
) -> CrowdResult:
    """Every face of every photo in ``paths`` (photos and .zip archives); never raises on bad files.

    ``max_file_size``: the largest single photo read, in bytes; ``progress`` is called before each
    file with its number (from 1) and name.
    """
    result, budget = CrowdResult(), Budget.full()
    for number, photo in enumerate(read_photos(paths, max_file_size, budget), 1):
        if progress:
            progress(number, photo.name)
        if photo.problem:
            result.rows.append(_note_row(photo.name, photo.problem))
            result.problems += 1
            continue
        _add_photo(result, predictor, photo, budget)
    return result


def _add_photo(result: CrowdResult, predictor: Predictor, photo: Photo, budget: Budget) -> None:
    data = photo.data or b""  # read (its problem is empty)
    try:
        _claim_pixels(budget, data)
        analysis = predictor.analyze(data)
    except ImageError as error:
        result.rows.append(_note_row(photo.name, f"not read: {error}"))
        result.problems += 1
        return
    result.photos += 1
    if not analysis.faces:
        result.rows.append(_note_row(photo.name, "no face found"))
    for number, (face, shown) in enumerate(zip(analysis.faces, analysis.on_image()), 1):
        result.rows.append([photo.name, number, " ".join(str(v) for v in face.box), *face_cells(face), ""])
        result.ages.append((face.age, face.gender))
        if len(result.crops) < MAX_GALLERY:
            caption = f"{photo.name}, face {number}: {face.label}"
            result.crops.append((thumbnail(analysis.image, shown.box), caption))


def thumbnail(image: np.ndarray, box: Sequence[int]) -> np.ndarray:
    """The face in ``box`` with a margin of a fifth of its size, :data:`GALLERY_SIDE` px square."""
    x1, y1, x2, y2 = box
    margin = round(0.2 * max(x2 - x1, y2 - y1))
    height, width = image.shape[:2]
    face = image[max(0, y1 - margin) : min(height, y2 + margin), max(0, x1 - margin) : min(width, x2 + margin)]
    return np.asarray(Image.fromarray(face).resize((GALLERY_SIDE, GALLERY_SIDE), Image.Resampling.LANCZOS))


def _claim_pixels(budget: Budget, data: bytes) -> None:
    """Count a photo's decoded pixels (from its header) against the budget; ``ImageError`` past it."""
    size = open_photo(data, DECODE_PIXELS).size
    if size > budget.pixels:
        raise ImageError(f"more than {MAX_TOTAL_PIXELS // 1_000_000} megapixels in all are read at once")
    budget.pixels -= size


def _note_row(name: str, note: str) -> list:
    return [name, None, *[""] * (len(HEADERS) - 3), note]


# --------------------------------------------------------------------------- reading files


def read_photos(
    paths: Iterable[str | os.PathLike], max_file_size: int, budget: Budget | None = None
) -> Iterator[Photo]:
    """Each photo in ``paths``, archives opened in memory, within one :class:`Budget`."""
    budget = budget or Budget.full()
    for path in paths:
        path = Path(path)
        if budget.files <= 0:  # not even opened: an archive's directory alone can be large
            yield Photo(path.name, problem=f"skipped: at most {MAX_FILES} files are read at once")
        elif path.suffix.lower() == ".zip":
            yield from _archive_photos(path, budget, max_file_size)
        else:
            yield _read_file(path, budget, max_file_size)


def _read_file(path: Path, budget: Budget, max_file_size: int) -> Photo:
    try:
        refused = _claim(budget, path.name, path.stat().st_size, max_file_size)
        data = b"" if refused else path.read_bytes()
    except OSError as error:
        return Photo(path.name, problem=f"not read: {error.strerror or error}")
    budget.bytes -= len(data)
    return refused or Photo(path.name, data)


def _archive_photos(path: Path, budget: Budget, max_file_size: int) -> Iterator[Photo]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        yield Photo(path.name, problem=f"not read: not a valid .zip archive ({error})")
        return
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir() and not _is_metadata(m.filename)]
        for index, member in enumerate(members):
            name = f"{path.name}/{member.filename}"
            if budget.files <= 0:
                yield Photo(
                    f"{path.name} ({len(members) - index} more files)",
                    problem=f"skipped: at most {MAX_FILES} files are read at once",
                )
                return
            yield _claim(budget, name, member.file_size, max_file_size) or _read_member(
                archive, member, name, budget, max_file_size
            )


def _claim(budget: Budget, name: str, size: int, max_file_size: int) -> Photo | None:
    """Count one file against the budget; a :class:`Photo` with the reason if it is not to be read."""
    if budget.files <= 0:
        return Photo(name, problem=f"skipped: at most {MAX_FILES} files are read at once")
    budget.files -= 1
    if PurePosixPath(name).suffix.lower() not in IMAGE_EXTENSIONS:
        return Photo(name, problem=f"skipped: not an image file ({PurePosixPath(name).suffix or 'no extension'})")
    if size > max_file_size:
        return Photo(name, problem=f"skipped: {size / 2**20:.0f} MB, more than the {max_file_size // 2**20} MB limit")
    if size > budget.bytes:
        return Photo(name, problem=f"skipped: more than {MAX_TOTAL_BYTES // 2**20} MB in all")
    return None


def _read_member(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo, name: str, budget: Budget, max_file_size: int
) -> Photo:
    """A member's bytes, read in memory and never more than its stated size (headers can lie)."""
    if member.flag_bits & 0x1:
        return Photo(name, problem="skipped: the file is encrypted")
    try:
        with archive.open(member) as stream:
            data = stream.read(member.file_size + 1)
    except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError, EOFError) as error:
        return Photo(name, problem=f"not read: the archive is damaged ({error})")
    if len(data) > member.file_size:
        return Photo(name, problem="not read: the archive is damaged (a file is larger than it says)")
    budget.bytes -= len(data)
    return Photo(name, data)


def _is_metadata(name: str) -> bool:
    """macOS's resource forks and hidden files, which archivers add beside the photos."""
    parts = PurePosixPath(name).parts
    return bool(parts) and (parts[0] == "__MACOSX" or parts[-1].startswith("."))


# --------------------------------------------------------------------------- outputs


def age_chart(result: CrowdResult) -> pd.DataFrame:
    """Faces per age group and gender (every group and gender, zeros included), for a bar chart."""
    ages = pd.DataFrame(result.ages, columns=["age", "gender"])
    ages["age group"] = age_group(ages["age"])
    counts = ages.groupby(["age group", "gender"]).size()
    return pd.DataFrame(
        [(group, gender, int(counts.get((group, gender), 0))) for group in AGE_GROUP_LABELS for gender in GENDER_ORDER],
        columns=["age group", "gender", "faces"],
    )


def to_csv(table: pd.DataFrame) -> str:
    """The table as CSV text, with cells that a spreadsheet would run as a formula made inert."""
    return table.map(_inert).to_csv(index=False)


def _inert(value):
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def summary(result: CrowdResult, files: Sequence) -> str:
    """One line: photos read, faces found, files that could not be used."""
    if not files:
        return "Add photos to start: several files, or a .zip archive of photos."
    faces = len(result.ages)
    text = f"**{faces} face{'s' if faces != 1 else ''} in {result.photos} photo{'s' if result.photos != 1 else ''}.**"
    if result.problems:
        text += f" {result.problems} file{'s' if result.problems != 1 else ''} could not be used: see the Note column."
    return text
