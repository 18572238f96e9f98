"""Consented feedback: face crops with the age a person says is true, kept for later training.

Only what the app's user agreed to store is kept: the face crop (never the whole photo), the
model's prediction, the true age, an optional true gender and when it was given. Rows go to
SQLAlchemy, so any database works:

* default: a SQLite file, ``$FACEAGE_HOME/feedback.db`` if ``FACEAGE_HOME`` is set, else
  ``~/.local/share/faceage/feedback.db`` (``$XDG_DATA_HOME/faceage`` when that is set);
* ``FACEAGE_DB_URL`` (or the ``url`` argument): any SQLAlchemy URL, e.g.
  ``postgresql+psycopg://user:password@host/db``.

:meth:`FeedbackStore.export` writes the crops as UTKFace-style files that
:func:`faceage_lib.data.utkface.parse_name` reads, ready to be added to a training folder.
"""

from __future__ import annotations

import io
import os
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, cast

import numpy as np
from PIL import Image
from sqlalchemy import (
    Boolean,
    CursorResult,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    String,
    create_engine,
    delete,
    event,
    func,
    select,
)
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import StaticPool

from .config import GENDERS, MAX_AGE, UNKNOWN_GENDER, data_home
from .data.utkface import parse_name
from .errors import StoreError

MIN_TRUE_AGE, MAX_TRUE_AGE = 0, 120
#: The largest crop side accepted (the app's crops are the model's input size, far smaller).
MAX_CROP_SIDE = 1024
DB_FILE = "feedback.db"
#: How long to wait for a database that another program holds locked (seconds).
LOCK_TIMEOUT_S = 5.0
#: The largest id an entry can have (a 64-bit signed integer, as SQLite and PostgreSQL store it).
MAX_ID = 2**63 - 1
#: Database errors, by a fragment of the driver's message, and what to tell the user.
_REASONS = {
    "locked": "it is locked by another program (waited {timeout} s); try again in a moment",
    "not a database": "the file is not a SQLite database, perhaps damaged; move it away to start a new one",
    "readonly": "it is read-only",
    "unable to open": "the file cannot be opened (check that its folder exists and can be written)",
}


class Base(DeclarativeBase):
    pass


class Feedback(Base):
    """One consented feedback entry."""

    __tablename__ = "feedback"
    #: ids are never reused, even after the newest entry is deleted (SQLite's AUTOINCREMENT;
    #: other databases' sequences never reuse values). A SQLite file created before this keeps
    #: its old table, whose ids can be reused.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    crop_png: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    crop_width: Mapped[int] = mapped_column(Integer, nullable=False)
    crop_height: Mapped[int] = mapped_column(Integer, nullable=False)
    predicted_age: Mapped[float] = mapped_column(Float, nullable=False)
    predicted_gender: Mapped[str] = mapped_column(String(9), nullable=False)  # as shown: female, male, uncertain
    gender_prob: Mapped[float] = mapped_column(Float, nullable=False)
    true_age: Mapped[int] = mapped_column(Integer, nullable=False)
    true_gender: Mapped[str | None] = mapped_column(String(6), nullable=True)
    consent: Mapped[bool] = mapped_column(Boolean, nullable=False)


@dataclass(frozen=True)
class FeedbackEntry:
    """A stored entry, without the crop's bytes (see :meth:`FeedbackStore.crop`)."""

    id: int
    created_at: datetime
    predicted_age: float
    predicted_gender: str
    gender_prob: float
    true_age: int
    true_gender: str | None
    crop_size: tuple[int, int]  # width, height

    @property
    def gender(self) -> str | None:
        """The gender used for training: the one the person gave, or ``None`` (unknown). The model's
        guess never becomes a label."""
        return self.true_gender

    def to_dict(self) -> dict:
        """Plain JSON types; ``created_at`` as ISO 8601 in UTC."""
        return {
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "predicted_age": self.predicted_age,
            "predicted_gender": self.predicted_gender,
            "gender_prob": self.gender_prob,
            "true_age": self.true_age,
            "true_gender": self.true_gender,
        }


@dataclass
class ExportResult:
    """What :meth:`FeedbackStore.export` did: files written, entries left out and why."""

    written: list[Path] = field(default_factory=list)
    #: id -> reason, for entries that cannot have a UTKFace name (true age 0 or over 116)
    skipped: dict[int, str] = field(default_factory=dict)
    #: id -> reason, for entries that could not be read (a damaged crop or field)
    damaged: dict[int, str] = field(default_factory=dict)


def default_url() -> str:
    """``$FACEAGE_DB_URL``, else the SQLite file in :func:`data_home`."""
    return os.environ.get("FACEAGE_DB_URL") or f"sqlite:///{data_home() / DB_FILE}"


class FeedbackStore:
    """The feedback database. Safe to share between the app's request threads.

    Every database fault (locked, damaged, read-only, unreachable) raises
    :class:`~faceage_lib.errors.StoreError` with the reason; a locked SQLite file is waited
    for ``timeout`` seconds at most.
    """

    def __init__(self, url: str | URL | None = None, timeout: float = LOCK_TIMEOUT_S):
        self.timeout = timeout
        try:
            self.url = make_url(url or default_url())
        except SQLAlchemyError:
            raise StoreError(
                f"the feedback database URL {str(url or default_url())!r} is not a database URL "
                "(e.g. sqlite:///path/feedback.db)",
                "its URL is not valid",
            ) from None
        self._sqlite = self.url.get_backend_name() == "sqlite"
        # SQLite allows one writer at a time: serialise writes in-process (other processes wait
        # on the busy timeout). Other databases handle concurrent transactions themselves.
        self._write_lock = threading.Lock() if self._sqlite else None
        with self._guard("opened"):
            self.engine = self._create_engine()
            Base.metadata.create_all(self.engine)

    def _create_engine(self) -> Engine:
        try:
            return self._sqlite_engine() if self._sqlite else create_engine(self.url, pool_pre_ping=True)
        except OSError as error:  # creating the SQLite file or its folder; the reason shown names no path
            reason, detail = f"{error.strerror or 'the file cannot be created'}", f": {error.filename or self.where}"
        except ImportError as error:
            reason, detail = f"its database driver {error.name!r} is not installed", ""
        raise StoreError(f"the feedback database {self.where} could not be opened: {reason}{detail}", reason) from None

    def _sqlite_engine(self) -> Engine:
        database = self.url.database
        in_memory = not database or database == ":memory:" or self.url.query.get("mode") == "memory"
        if in_memory:  # one shared connection, or every thread would see its own empty database
            engine = create_engine(self.url, connect_args={"check_same_thread": False}, poolclass=StaticPool)
        else:
            if database and not self.url.query.get("uri"):  # a plain file name, not a "file:" URI
                _create_private_file(Path(database).expanduser())
            engine = create_engine(self.url, connect_args={"check_same_thread": False, "timeout": self.timeout})
        busy_ms = int(self.timeout * 1000)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):  # constant statements, no user input
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine

    def __repr__(self) -> str:
        return f"FeedbackStore({self.where!r})"

    @property
    def where(self) -> str:
        """The database's file (SQLite) or URL without its password."""
        if self._sqlite and self.url.database:
            return self.url.database
        return self.url.render_as_string(hide_password=True)

    @contextmanager
    def _guard(self, action: str):
        """Turn a database fault into one :class:`StoreError` that says why."""
        try:
            yield
        except SQLAlchemyError as error:
            detail, reason = _reasons(error, self.timeout)
            raise StoreError(f"the feedback database {self.where} could not be {action}: {detail}", reason) from None

    # ----------------------------------------------------------------------------- writing

    def add(
        self,
        crop: Any,
        predicted_age: float,
        predicted_gender: str,
        gender_prob: float,
        true_age: Any,
        consent: bool,
        true_gender: str | None = None,
    ) -> int:
        """Store one consented entry; returns its id.

        Raises ``ValueError`` with the reason when ``consent`` is not ``True`` (the boolean: no
        string, number or list counts), ``true_age`` is not a whole number of years in 0-120,
        the crop is not an HxWx3 uint8 image, ``predicted_gender`` (the gender shown) is not
        "female", "male" or "uncertain", or ``true_gender`` (the one the person gives, if any) is
        not "female" / "male". Nothing is stored then. A database fault raises ``StoreError``.
        """
        if not is_consent(consent):
            raise ValueError("feedback is stored only with the person's consent (consent=True)")
        age = check_true_age(true_age)
        png, (height, width) = encode_crop(crop)
        predicted_gender = check_gender(predicted_gender, "predicted_gender", SHOWN_GENDERS)
        true_gender = None if true_gender in (None, "") else check_gender(true_gender, "true_gender")
        predicted_age = _finite(predicted_age, "predicted_age", 0, 200)
        gender_prob = _finite(gender_prob, "gender_prob", 0, 1)
        row = Feedback(
            created_at=datetime.now(timezone.utc),
            crop_png=png,
            crop_width=width,
            crop_height=height,
            predicted_age=predicted_age,
            predicted_gender=predicted_gender,
            gender_prob=gender_prob,
            true_age=age,
            true_gender=true_gender,
            consent=True,
        )
        with self._guard("written"), self._writing(), Session(self.engine, expire_on_commit=False) as session:
            session.add(row)
            session.commit()
            return int(row.id)

    def delete(self, entry_id: int) -> bool:
        """Remove one entry; ``False`` when there is no entry with that id."""
        if not _storable_id(entry_id):
            return False
        with self._guard("written"), self._writing(), Session(self.engine) as session:
            result = cast(CursorResult, session.execute(delete(Feedback).where(Feedback.id == int(entry_id))))
            session.commit()
            return result.rowcount > 0

    def _writing(self):
        return self._write_lock if self._write_lock is not None else _NoLock()

    # ----------------------------------------------------------------------------- reading

    def count(self) -> int:
        with self._guard("read"), Session(self.engine) as session:
            return session.scalars(select(func.count()).select_from(Feedback)).one()

    def entries(self) -> list[FeedbackEntry]:
        """Every entry, oldest first, without the crops' bytes."""
        columns = (
            Feedback.id,
            Feedback.created_at,
            Feedback.predicted_age,
            Feedback.predicted_gender,
            Feedback.gender_prob,
            Feedback.true_age,
            Feedback.true_gender,
            Feedback.crop_width,
            Feedback.crop_height,
        )
        with self._guard("read"), Session(self.engine) as session:
            rows = session.execute(select(*columns).order_by(Feedback.id)).all()
        return [
            FeedbackEntry(
                r.id,
                _utc(r.created_at),
                r.predicted_age,
                r.predicted_gender,
                r.gender_prob,
                r.true_age,
                r.true_gender,
                (r.crop_width, r.crop_height),
            )
            for r in rows
        ]

    def crop(self, entry_id: int) -> np.ndarray:
        """The stored crop of one entry as an RGB uint8 array (``KeyError`` if there is none)."""
        if not _storable_id(entry_id):
            raise KeyError(f"no feedback entry with id {entry_id}")
        with self._guard("read"), Session(self.engine) as session:
            png = session.scalar(select(Feedback.crop_png).where(Feedback.id == int(entry_id)))
        if png is None:
            raise KeyError(f"no feedback entry with id {entry_id}")
        return decode_crop(png)

    def export(self, out_dir: str | os.PathLike) -> ExportResult:
        """Write every crop as a UTKFace-style JPEG; returns the files written and what was left out.

        Names are ``{true age}_{gender}_{timestamp}_{id}.jpg`` (gender 0 male, 1 female, as the
        person gave it; no race field, as race is not collected). Where the person gave no gender
        the name says ``unknown`` instead (``{true age}_unknown_{timestamp}_{id}.jpg``): the
        model's guess is never written as a label, and
        :func:`~faceage_lib.data.utkface.parse_name` skips such files, saying why.
        UTKFace's labels cover ages 1-116 only, so entries with a true age of 0 or over 116
        cannot be named that way and are skipped; an entry that cannot be read (a damaged crop
        or field) is reported as damaged, and the export goes on. Exporting again overwrites
        the same files.
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        result = ExportResult()
        with self._guard("read"), Session(self.engine) as session:
            ids = session.scalars(select(Feedback.id).order_by(Feedback.id)).all()
            for entry_id in ids:  # one row at a time: crops are not all held in memory
                try:
                    item = _export_item(session, entry_id)
                except (ValueError, TypeError) as error:
                    result.damaged[entry_id] = _first_line(error)
                    continue
                except _Skip as skip:
                    result.skipped[entry_id] = str(skip)
                    continue
                if item is None:  # deleted meanwhile
                    continue
                name, pixels = item
                path = out / name
                Image.fromarray(pixels).save(path, quality=95)
                result.written.append(path)
        return result


class _Skip(Exception):
    """An entry that cannot be exported by design (its reason is the message)."""


def _export_item(session: Session, entry_id: int) -> tuple[str, np.ndarray] | None:
    """The UTKFace-style file name and pixels of one entry; ``None`` if it is gone."""
    row = session.get(Feedback, entry_id)
    if row is None:
        return None
    session.expunge(row)
    if not 1 <= row.true_age <= MAX_AGE:
        raise _Skip(f"true age {row.true_age} is outside UTKFace's 1-{MAX_AGE}")
    check_gender(row.predicted_gender, "predicted_gender", SHOWN_GENDERS)
    gender = UNKNOWN_GENDER if row.true_gender is None else GENDERS.index(check_gender(row.true_gender, "gender"))
    name = f"{row.true_age}_{gender}_{_utc(row.created_at):%Y%m%d%H%M%S%f}_{row.id}.jpg"
    if row.true_gender is not None:
        parse_name(name)  # the training data layer must read it back
    return name, decode_crop(row.crop_png)


class _NoLock:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _reasons(error: SQLAlchemyError, timeout: float) -> tuple[str, str]:
    """What went wrong, in words: (for the log, for a web user). A known fault's explanation serves
    both; otherwise the log gets the driver's first line, which may name files or hosts, and the
    user a sentence that names nothing."""
    text = _first_line(getattr(error, "orig", None) or error)
    known = next((reason for fragment, reason in _REASONS.items() if fragment in text.lower()), None)
    if known:
        known = known.replace("{timeout}", f"{timeout:g}")
        return known, known
    return text, f"the database reported an error ({type(getattr(error, 'orig', None) or error).__name__})"


def _storable_id(entry_id: int) -> bool:
    """Whether ``entry_id`` can be an entry's id (a database refuses to compare with larger integers)."""
    return 1 <= int(entry_id) <= MAX_ID


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _create_private_file(path: Path) -> None:
    """Create the SQLite file owner-only (0600), in a folder made owner-only (0700) if faceage creates it.

    An existing file or folder is left as it is. SQLite gives its -wal and -shm files the
    database file's permissions.
    """
    if not path.parent.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o700)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


# --------------------------------------------------------------------------- validation


def is_consent(value: Any) -> bool:
    """Only the boolean ``True`` is consent: not "true", "yes", 1 or ``[1]``."""
    return value is True or (isinstance(value, np.bool_) and bool(value))


def check_true_age(value: Any) -> int:
    """The age as an int, or ``ValueError`` unless it is a whole number of years in 0-120.

    Text must be ASCII digits 0-9 (surrounding spaces aside): "1_0" and full-width digits are refused.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"the true age must be a whole number from {MIN_TRUE_AGE} to {MAX_TRUE_AGE}, not {value!r}")
    if isinstance(value, str):
        if not re.fullmatch(r"[0-9]+", value.strip()):
            raise ValueError(
                f"the true age must be a whole number from {MIN_TRUE_AGE} to {MAX_TRUE_AGE} "
                f"(digits 0-9 only), not {value.strip()[:20]!r}"
            )
        if len(value.strip().lstrip("0")) > 3:  # no int() of thousands of digits (Python refuses them)
            raise ValueError(f"the true age must be from {MIN_TRUE_AGE} to {MAX_TRUE_AGE}")
        value = int(value.strip())
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value) or value != int(value):
            raise ValueError(f"the true age must be a whole number of years, not {value!r}")
        value = int(value)
    if not isinstance(value, (int, np.integer)):
        raise ValueError(f"the true age must be a whole number, not a {type(value).__name__}")
    if not MIN_TRUE_AGE <= int(value) <= MAX_TRUE_AGE:
        raise ValueError(f"the true age must be from {MIN_TRUE_AGE} to {MAX_TRUE_AGE}, not {value}")
    return int(value)


#: The genders the app shows (and stores as the prediction): "uncertain" where it held back.
SHOWN_GENDERS = (*GENDERS, "uncertain")


def check_gender(value: Any, name: str, allowed: tuple[str, ...] = GENDERS) -> str:
    if not isinstance(value, str) or value.strip().lower() not in allowed:
        raise ValueError(f"{name} must be {' or '.join(repr(g) for g in allowed)}, not {value!r}")
    return value.strip().lower()


def _finite(value: Any, name: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, not {value!r}") from None
    if not np.isfinite(number) or not low <= number <= high:
        raise ValueError(f"{name} must be a number from {low} to {high}, not {value!r}")
    return number


def encode_crop(crop: Any) -> tuple[bytes, tuple[int, int]]:
    """PNG bytes of an HxWx3 uint8 RGB crop (lossless), and its (height, width)."""
    if not isinstance(crop, np.ndarray):
        raise ValueError(f"the crop must be a numpy array, not a {type(crop).__name__}")
    if crop.dtype != np.uint8:
        raise ValueError(f"the crop must be uint8, not {crop.dtype}")
    if crop.ndim != 3 or crop.shape[2] != 3:
        raise ValueError(f"the crop must be an HxWx3 RGB image, not shape {crop.shape}")
    height, width = crop.shape[:2]
    if not (1 <= height <= MAX_CROP_SIDE and 1 <= width <= MAX_CROP_SIDE):
        raise ValueError(f"the crop must be 1-{MAX_CROP_SIDE} pixels on each side, not {width}x{height}")
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(crop), "RGB").save(buffer, format="PNG")
    return buffer.getvalue(), (height, width)


def decode_crop(data: bytes) -> np.ndarray:
    """The RGB uint8 pixels of a stored crop; ``ValueError`` if they cannot be read."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except (OSError, SyntaxError, TypeError):  # what PIL raises on damaged or missing data
        raise ValueError("the stored crop is not a readable PNG image") from None


def _utc(moment: datetime) -> datetime:
    """SQLite gives naive datetimes back: they were stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
