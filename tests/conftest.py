"""Shared fixtures: a generated UTKFace-like folder and a tiny exported model.

Nothing here needs the network or ../shared.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: Valid names: age_gender_race_datetime.jpg.chip.jpg, with the real dataset's quirks.
QUIRKY_VALID = [
    "39_1_20170116174525125.jpg.chip.jpg",  # no race field
    "24_0_1_20170116220224657 .jpg.chip.jpg",  # space before the extension
    "55_0_0_20170116232725357jpg.chip.jpg",  # missing dot
    "30_1_2_201701162327253570.jpg.chip.jpg",  # 18-digit date
]
#: Names that cannot be labelled, with the reason the parser gives (a fragment of it).
MALFORMED = {
    "readme.jpg": "does not start",
    "abc_1_0_20170116174525125.jpg.chip.jpg": "does not start",
    "0_1_0_20170116174525125.jpg.chip.jpg": "age 0",
    "200_0_0_20170116174525125.jpg.chip.jpg": "age 200",
    "30_7_0_20170116174525125.jpg.chip.jpg": "gender 7",
}
N_DUPLICATES = 3


def _image(seed: int, size: int = 96) -> Image.Image:
    """A distinct, smooth RGB image (content differs for every seed)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
    return Image.fromarray(base).resize((size, size), Image.BILINEAR)


def make_utkface(root: Path, per_stratum: int = 3) -> dict:
    """Write a small UTKFace-like folder; returns what it contains."""
    folder = root / "UTKFace"
    folder.mkdir(parents=True)
    names, seed = [], 0
    for age in (1, 5, 15, 25, 35, 45, 55, 65, 75, 85):
        for gender in (0, 1):
            for k in range(per_stratum):
                seed += 1
                name = f"{age + k}_{gender}_{seed % 5}_2017011617452{seed:04d}.jpg.chip.jpg"
                _image(seed).save(folder / name, quality=90)
                names.append(name)
    for name in QUIRKY_VALID + list(MALFORMED):
        seed += 1
        _image(seed).save(folder / name, quality=90)
    for k in range(N_DUPLICATES):  # byte-identical copies under another valid name
        copy = names[k].replace("2017", "2018", 1)
        (folder / copy).write_bytes((folder / names[k]).read_bytes())
    (folder / "notes.txt").write_text("not an image")
    return {
        "folder": folder,
        "valid": len(names) + len(QUIRKY_VALID),
        "duplicates": N_DUPLICATES,
        "malformed": len(MALFORMED),
        "files": len(names) + len(QUIRKY_VALID) + len(MALFORMED) + N_DUPLICATES,
    }


@pytest.fixture(scope="session")
def utkface_dir(tmp_path_factory) -> dict:
    return make_utkface(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def utkface_loaded(utkface_dir, tmp_path_factory):
    """The generated folder, labelled, de-duplicated and split."""
    from faceage_lib.data.utkface import load_utkface

    return load_utkface(utkface_dir["folder"], tmp_path_factory.mktemp("work"))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny compact model with fixed random weights, exported like a trained one."""
    import keras

    from faceage_lib.training.export import export_model
    from faceage_lib.training.model import build_model

    keras.utils.set_random_seed(0)
    model = build_model(img_size=32, width=4)
    out = tmp_path_factory.mktemp("tiny_model")
    export_model(model, out, interval_mass=0.8, training={"note": "untrained test model"})
    return out


# --------------------------------------------------------------------------- the astronaut photo


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """``skimage.data.astronaut()`` (Eileen Collins, NASA, public domain): one face."""
    from skimage import data as samples

    return samples.astronaut()


@pytest.fixture(scope="session")
def astronaut_box() -> tuple[int, int, int, int]:
    """The golden box of that face (x1, y1, x2, y2), measured once by hand."""
    return (177, 79, 273, 175)


@pytest.fixture(scope="session")
def detector():
    """The default face detector."""
    from faceage_lib.inference.detectors import get_detector

    return get_detector()


@pytest.fixture(scope="session")
def astronaut_face(detector, astronaut):
    faces = detector.detect(astronaut)
    assert len(faces) == 1
    return faces[0]


@pytest.fixture(scope="session")
def predictor(tiny_model_dir):
    """A Predictor on the tiny test model."""
    from faceage_lib.inference.predictor import Predictor

    return Predictor(tiny_model_dir)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def app_server(tiny_model_dir, tmp_path_factory):
    """The Gradio app on the tiny model, served on a free localhost port: (url, feedback store)."""
    from faceage_lib.app.page import LAUNCH_OPTIONS, build_app
    from faceage_lib.feedback import FeedbackStore

    store = FeedbackStore(f"sqlite:///{tmp_path_factory.mktemp('app') / 'feedback.db'}")
    demo = build_app(tiny_model_dir, store)
    _, url, _ = demo.launch(
        server_name="127.0.0.1", server_port=_free_port(), prevent_thread_lock=True, quiet=True, **LAUNCH_OPTIONS
    )
    yield url, store
    demo.close()


# --------------------------------------------------------------------------- a corpus of photos


def write_corpus(root: Path, astronaut: np.ndarray, faces: int = 8) -> list[Path]:
    """``faces`` face photos in two folders, two cats, one truncated JPEG and a text file; the image paths, sorted."""
    from skimage import data as samples

    (root / "cam1").mkdir(parents=True)
    (root / "cam2" / "night").mkdir(parents=True)
    photo = Image.fromarray(astronaut).resize((256, 256))
    for k in range(faces):
        folder = root / ("cam1" if k % 2 else "cam2")
        shifted = Image.fromarray(np.roll(np.asarray(photo), 4 * k, axis=1))
        shifted.save(folder / f"face{k:02d}.jpg", quality=70 + 2 * k)
    cat = Image.fromarray(samples.chelsea()).resize((200, 150))
    cat.save(root / "cam1" / "cat.jpg")
    cat.save(root / "cam2" / "night" / "cat.png")
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG")
    (root / "cam2" / "broken.jpg").write_bytes(buffer.getvalue()[:1500])
    (root / "cam1" / "notes.txt").write_text("not a photo")
    return sorted(p for p in root.rglob("*") if p.suffix in (".jpg", ".png"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, astronaut) -> tuple[Path, list[Path]]:
    """(folder, its image files in path order)."""
    root = tmp_path_factory.mktemp("corpus") / "photos"
    return root, write_corpus(root, astronaut)


# --------------------------------------------------------------------------- PostgreSQL


def _postgres_bin(name: str) -> str | None:
    """A PostgreSQL server program: on PATH, else in Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    return str(candidates[-1]) if candidates else None


def _as_server_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: there, run it as the ``postgres`` user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture(scope="session")
def postgres_server():
    """A throw-away PostgreSQL server on a Unix socket in a temp folder: its base URL (no database).

    ``FACEAGE_TEST_POSTGRES_URL`` uses a server you run instead. Where none can be started the
    tests that need it skip, except in CI (``CI`` or ``FACEAGE_REQUIRE_POSTGRES`` set), where
    they fail.
    """
    if os.environ.get("FACEAGE_TEST_POSTGRES_URL"):
        yield os.environ["FACEAGE_TEST_POSTGRES_URL"]
        return
    initdb, pg_ctl = _postgres_bin("initdb"), _postgres_bin("pg_ctl")
    if not (initdb and pg_ctl):
        _no_postgres("initdb and pg_ctl were not found (Debian: apt-get install -y postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="faceage-pg-"))  # short: a socket path has ~100 characters
    data = folder / "data"
    try:
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres")
        subprocess.run(
            _as_server_user([initdb, "-D", str(data), "-U", "faceage", "-A", "trust", "--no-sync"]),
            check=True,
            capture_output=True,
            timeout=120,
        )
        subprocess.run(
            _as_server_user(
                [
                    pg_ctl,
                    "-D",
                    str(data),
                    "-l",
                    str(folder / "log"),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    f"-k {folder} -c listen_addresses='' -c fsync=off",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=90,
        )
    except (OSError, LookupError, subprocess.SubprocessError) as error:
        shutil.rmtree(folder, ignore_errors=True)
        detail = getattr(error, "stderr", b"") or b""
        _no_postgres(f"a PostgreSQL server could not be started: {error} {detail.decode(errors='replace')[-300:]}")
    yield f"postgresql+psycopg://faceage@/postgres?host={folder}"
    subprocess.run(
        _as_server_user([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]), capture_output=True, timeout=60
    )
    shutil.rmtree(folder, ignore_errors=True)


def _no_postgres(reason: str):
    if os.environ.get("CI") or os.environ.get("FACEAGE_REQUIRE_POSTGRES"):  # in CI the tests must run
        pytest.fail(f"{reason}, and CI or FACEAGE_REQUIRE_POSTGRES is set", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """The URL of a new, empty database on that server, for one test."""
    import sqlalchemy

    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'psycopg[binary]')")
    name = f"faceage_test_{uuid.uuid4().hex[:12]}"
    server = sqlalchemy.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))  # a generated name, no user input
    server.dispose()
    url = sqlalchemy.make_url(postgres_server).set(database=name)
    return url.render_as_string(hide_password=False)
