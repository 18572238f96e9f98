"""Consented feedback: face crops with the age a person says is true, kept for later training.

Only what the app's user agreed to store is kept: the face crop (never the whole photo), the
model's prediction, the true age, an optional true gender and when it was given. Rows go to
SQLAlchemy, so any database works:

* default: a SQLite file, ``$FACEAGE_HOME/feedback.db`` if ``FACEAGE_HOME`` is set, else
  ``~/.local/share/faceage/feedback.db`` (``$XDG_DATA_HOME/faceage`` when that is set);
* ``FACEAGE_DB_URL`` (or the ``url`` argument): any SQLAlchemy URL, e.g.
  ``postgresql+psycopg://user:password@host/db``.

:meth:`FeedbackStore.export` writes the crops as UTKFace-style files that
:func:`faceage_lib.training.utkface.parse_name` reads, ready to be added to a training folder.
"""

from __future__ import annotations

import io
import logging
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import (Boolean, DateTime, Float, Integer, LargeBinary, String, create_engine, delete,
                        event, func, select)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import StaticPool

from ..config import GENDERS, MAX_AGE, data_home
from ..training.utkface import parse_name

log = logging.getLogger(__name__)

MIN_TRUE_AGE, MAX_TRUE_AGE = 0, 120
#: The largest crop side accepted (the app's crops are the model's input size, far smaller).
MAX_CROP_SIDE = 1024
DB_FILE = "feedback.db"


class Base(DeclarativeBase):
    pass


class Feedback(Base):
    """One consented feedback entry."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    crop_png: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    crop_width: Mapped[int] = mapped_column(Integer, nullable=False)
    crop_height: Mapped[int] = mapped_column(Integer, nullable=False)
    predicted_age: Mapped[float] = mapped_column(Float, nullable=False)
    predicted_gender: Mapped[str] = mapped_column(String(6), nullable=False)
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
    def gender(self) -> str:
        """The gender used for training: the true one when given, else the predicted one."""
        return self.true_gender or self.predicted_gender


def default_url() -> str:
    """``$FACEAGE_DB_URL``, else the SQLite file in :func:`data_home`."""
    return os.environ.get("FACEAGE_DB_URL") or f"sqlite:///{data_home() / DB_FILE}"


class FeedbackStore:
    """The feedback database. Safe to share between the app's request threads."""

    def __init__(self, url: str | None = None):
        self.url = make_url(url or default_url())
        self._sqlite = self.url.get_backend_name() == "sqlite"
        # SQLite allows one writer at a time: serialise writes in-process (other processes wait
        # on the busy timeout). Other databases handle concurrent transactions themselves.
        self._write_lock = threading.Lock() if self._sqlite else None
        self.engine = self._create_engine()
        Base.metadata.create_all(self.engine)

    def _create_engine(self) -> Engine:
        if not self._sqlite:
            return create_engine(self.url, pool_pre_ping=True)
        database = self.url.database
        in_memory = not database or database == ":memory:" or self.url.query.get("mode") == "memory"
        if in_memory:  # one shared connection, or every thread would see its own empty database
            engine = create_engine(self.url, connect_args={"check_same_thread": False}, poolclass=StaticPool)
        else:
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(self.url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):  # constant statements, no user input
            cursor = dbapi_connection.cursor()
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine

    def __repr__(self) -> str:
        return f"FeedbackStore({self.url.render_as_string(hide_password=True)!r})"

    # ----------------------------------------------------------------------------- writing

    def add(self, crop: Any, predicted_age: float, predicted_gender: str, gender_prob: float,
            true_age: Any, consent: bool, true_gender: str | None = None) -> int:
        """Store one consented entry; returns its id.

        Raises ``ValueError`` with the reason when ``consent`` is not ``True``, ``true_age`` is not
        a whole number of years in 0-120, the crop is not an HxWx3 uint8 image, or a gender
        is not "female" / "male". Nothing is stored then.
        """
        if not (isinstance(consent, (bool, np.bool_)) and consent):
            raise ValueError("feedback is stored only with the person's consent (consent=True)")
        age = check_true_age(true_age)
        png, (height, width) = encode_crop(crop)
        predicted_gender = check_gender(predicted_gender, "predicted_gender")
        true_gender = None if true_gender in (None, "") else check_gender(true_gender, "true_gender")
        predicted_age = _finite(predicted_age, "predicted_age", 0, 200)
        gender_prob = _finite(gender_prob, "gender_prob", 0, 1)
        row = Feedback(created_at=datetime.now(timezone.utc), crop_png=png, crop_width=width,
                       crop_height=height, predicted_age=predicted_age, predicted_gender=predicted_gender,
                       gender_prob=gender_prob, true_age=age, true_gender=true_gender, consent=True)
        with self._writing(), Session(self.engine, expire_on_commit=False) as session:
            session.add(row)
            session.commit()
            return int(row.id)

    def delete(self, entry_id: int) -> bool:
        """Remove one entry; ``False`` when there is no entry with that id."""
        with self._writing(), Session(self.engine) as session:
            result = session.execute(delete(Feedback).where(Feedback.id == int(entry_id)))
            session.commit()
            return result.rowcount > 0

    def _writing(self):
        return self._write_lock if self._write_lock is not None else _NoLock()

    # ----------------------------------------------------------------------------- reading

    def count(self) -> int:
        with Session(self.engine) as session:
            return int(session.scalar(select(func.count()).select_from(Feedback)))

    def entries(self) -> list[FeedbackEntry]:
        """Every entry, oldest first, without the crops' bytes."""
        columns = (Feedback.id, Feedback.created_at, Feedback.predicted_age, Feedback.predicted_gender,
                   Feedback.gender_prob, Feedback.true_age, Feedback.true_gender, Feedback.crop_width,
                   Feedback.crop_height)
        with Session(self.engine) as session:
            rows = session.execute(select(*columns).order_by(Feedback.id)).all()
        return [FeedbackEntry(r.id, _utc(r.created_at), r.predicted_age, r.predicted_gender, r.gender_prob,
                              r.true_age, r.true_gender, (r.crop_width, r.crop_height)) for r in rows]

    def crop(self, entry_id: int) -> np.ndarray:
        """The stored crop of one entry as an RGB uint8 array (``KeyError`` if there is none)."""
        with Session(self.engine) as session:
            png = session.scalar(select(Feedback.crop_png).where(Feedback.id == int(entry_id)))
        if png is None:
            raise KeyError(f"no feedback entry with id {entry_id}")
        return decode_crop(png)

    def export(self, out_dir: str | os.PathLike) -> list[Path]:
        """Write every crop as a UTKFace-style JPEG; returns the files written.

        Names are ``{true age}_{gender}_{timestamp}_{id}.jpg`` (gender 0 male, 1 female: the true
        gender when given, else the predicted one; no race field, as race is not collected).
        UTKFace's labels cover ages 1-116 only, so entries with a true age of 0 or over 116
        cannot be named that way and are skipped (and logged). Exporting again overwrites the
        same files.
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        skipped = []
        with Session(self.engine) as session:
            ids = session.scalars(select(Feedback.id).order_by(Feedback.id)).all()
            for entry_id in ids:  # one row at a time: crops are not all held in memory
                row = session.get(Feedback, entry_id)
                if row is None:  # deleted meanwhile
                    continue
                session.expunge(row)
                if not 1 <= row.true_age <= MAX_AGE:
                    skipped.append(row.id)
                    continue
                gender = GENDERS.index(row.true_gender or row.predicted_gender)
                name = f"{row.true_age}_{gender}_{_utc(row.created_at):%Y%m%d%H%M%S%f}_{row.id}.jpg"
                parse_name(name)  # the training data layer must read it back
                path = out / name
                Image.fromarray(decode_crop(row.crop_png)).save(path, quality=95)
                written.append(path)
        if skipped:
            log.warning("skipped %d feedback entries whose true age is outside UTKFace's 1-%d: ids %s",
                        len(skipped), MAX_AGE, skipped)
        return written


class _NoLock:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# --------------------------------------------------------------------------- validation


def check_true_age(value: Any) -> int:
    """The age as an int, or ``ValueError`` unless it is a whole number of years in 0-120."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"the true age must be a whole number from {MIN_TRUE_AGE} to {MAX_TRUE_AGE}, not {value!r}")
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise ValueError(f"the true age must be a whole number from {MIN_TRUE_AGE} to {MAX_TRUE_AGE}, "
                             f"not {value!r}") from None
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value) or value != int(value):
            raise ValueError(f"the true age must be a whole number of years, not {value!r}")
        value = int(value)
    if not isinstance(value, (int, np.integer)):
        raise ValueError(f"the true age must be a whole number, not a {type(value).__name__}")
    if not MIN_TRUE_AGE <= int(value) <= MAX_TRUE_AGE:
        raise ValueError(f"the true age must be from {MIN_TRUE_AGE} to {MAX_TRUE_AGE}, not {value}")
    return int(value)


def check_gender(value: Any, name: str) -> str:
    if not isinstance(value, str) or value.strip().lower() not in GENDERS:
        raise ValueError(f"{name} must be 'female' or 'male', not {value!r}")
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
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


def _utc(moment: datetime) -> datetime:
    """SQLite gives naive datetimes back: they were stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
