"""The running app under load and abuse: concurrent predictions and feedback, a burst past the queue, and
the hostile requests of issue 17, each with a normal photo sent meanwhile by another user.

    python benchmarks/load.py                    # writes benchmarks/results/load.json and load.md
    python benchmarks/load.py --count-scale 0.2  # a quick try with fewer requests

The app is built on the shipped model and served in this process on a free localhost port, with a
temporary ``FACEAGE_HOME``, Gradio cache and feedback database. Requests speak Gradio's own queue
protocol over HTTP (upload, ``queue/join``, the ``queue/data`` event stream), each from a session
of its own and from an address of its own (``X-Forwarded-For``, trusted here with
``FACEAGE_TRUST_FORWARDED=1``), as separate browsers would. Scenarios, each started all at once and
given a time bound:

1. the same photo, predicted by many users at once;
2. as many different photos (the public-domain astronaut of ``skimage.data``, resized, shifted and
   recoloured), each at once;
3. feedback with consent from as many users, each after an ``/analyze`` of its own session; each
   submission carries a distinct true age, so the store's rows show what was lost or duplicated;
4. a burst of predictions past the Photo lane's waiting budget and workers;
5. abuse (:data:`ABUSES`): a flood of Many-photos requests, one client sending many photos, costly
   files, a zip of huge GIFs, large WebPs at once, and a gigabyte of uploads with no action. While
   each runs, another user sends a normal photo: its latency and answer are recorded, and so is the
   process's peak memory during the scenario (VmHWM, reset before it).

A prediction is *answered* when its message, table and annotated image (downloaded and decoded
whole) equal what ``analyze_photo`` gives for that photo in-process; a feedback submission when the
app says it was stored and the row it names holds the age and gender that were sent. A request
with no answer within the time bound is *lost*, and so is a feedback submission not in the store.
The script exits with status 1 if any request was lost or duplicated.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import math
import os
import re
import socket
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

RESULTS = Path(__file__).resolve().parent / "results"
SAME_PHOTO, DIFFERENT_PHOTOS, FEEDBACKS, BURST_EXTRA = 50, 50, 100, 40
#: The abuse scenarios' sizes: Many-photos requests of one tiny GIF, photos sent by one client,
#: GIFs of 8000 x 8000 in one zip, WebPs of 6000 x 4000 at once, 25 MB uploads with no action.
CROWD_FLOOD, GREEDY_CLIENT, ZIP_GIFS, BIG_WEBPS, UPLOADS_25MB = 130, 40, 100, 4, 48
TIME_BOUND_S = 120.0
THANKS = re.compile(r"Thank you: feedback #(\d+) for face 1 was stored\.")


class Failure(Exception):
    """A request that got an answer, but not a valid one: ``kind`` groups it, ``detail`` shows it."""

    def __init__(self, kind: str, detail: str = ""):
        super().__init__(kind)
        self.kind, self.detail = kind, detail[:200]


@dataclass(frozen=True)
class Photo:
    """A PNG to send and what the app must answer for it (computed in-process)."""

    name: str
    data: bytes
    message: str
    rows: list[list]
    size: tuple[int, int]  # the annotated image's width, height


@dataclass(frozen=True)
class Outcome:
    """One request: answered or the kind of error, its latency, and the feedback id it names."""

    seconds: float
    error: Failure | None = None
    entry_id: int | None = None


@dataclass
class Report:
    """One scenario's counts."""

    name: str
    sent: int
    answered: int = 0
    errors: Counter = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    lost: int = 0
    stored: int | None = None
    duplicated: int = 0
    latencies: list[float] = field(default_factory=list)
    slowest_failure_s: float | None = None
    wall_s: float = 0.0
    normal_photo: Outcome | None = None  # another user's photo, sent while an abuse runs
    peak_rss_mb: int | None = None
    note: str = ""

    def to_dict(self) -> dict:
        """Plain JSON types, with the latency percentiles of the answered requests."""
        times = np.asarray(self.latencies)
        latency = (
            {q: round(float(np.percentile(times, p)), 3) for q, p in (("p50", 50), ("p95", 95), ("max", 100))}
            if times.size
            else None
        )
        return {
            "name": self.name,
            "sent": self.sent,
            "answered": self.answered,
            "failed": sum(self.errors.values()),
            "errors": dict(self.errors),
            "error_examples": self.examples,
            "lost": self.lost,
            "stored": self.stored,
            "duplicated": self.duplicated,
            "latency_s": latency,
            "slowest_failure_s": None if self.slowest_failure_s is None else round(self.slowest_failure_s, 3),
            "wall_s": round(self.wall_s, 2),
            "normal_photo": _normal(self.normal_photo),
            "peak_rss_mb": self.peak_rss_mb,
            "note": self.note,
        }


def _normal(outcome: Outcome | None) -> dict | None:
    if outcome is None:
        return None
    return {
        "seconds": round(outcome.seconds, 3),
        "answered": outcome.error is None,
        "error": outcome.error.detail or outcome.error.kind if outcome.error else None,
    }


# --------------------------------------------------------------------------- the photos


def make_photos(count: int) -> list[bytes]:
    """``count`` PNGs of the astronaut, each of its own size, position and colours."""
    from skimage import data as samples

    astronaut = Image.fromarray(samples.astronaut())
    return [_variant(astronaut, i) for i in range(count)]


def _variant(astronaut: Image.Image, i: int) -> bytes:
    side = 300 + 6 * i
    width, height = side + 40 + 4 * i, side + 20 + 2 * i  # a size no other variant has
    background = (60 + 3 * i % 140, 90 + 5 * i % 120, 120 + 7 * i % 100)
    canvas = Image.new("RGB", (width, height), background)
    canvas.paste(
        astronaut.resize((side, side), Image.Resampling.BICUBIC),
        (7 * i % (width - side + 1), 3 * i % (height - side + 1)),
    )
    gains = 1 + 0.12 * np.sin(i + np.array([0.0, 2.1, 4.2]))
    pixels = np.clip(np.asarray(canvas, np.float32) * gains, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def expected_photos(datas: list[bytes]) -> list[Photo]:
    """Each PNG with the answer ``analyze_photo`` gives for it here (a model of its own)."""
    from faceage_lib.app.analysis import analyze_photo
    from faceage_lib.inference.predictor import Predictor

    predictor = Predictor()
    photos = []
    for i, data in enumerate(datas):
        annotated, rows, message = analyze_photo(predictor, data)
        photos.append(
            Photo(
                f"photo{i:02d}.png",
                data,
                message,
                [list(row) for row in rows],
                (annotated.shape[1], annotated.shape[0]),
            )
        )
    return photos


# --------------------------------------------------------------------------- the app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class App:
    """The served app: its page, address, feedback store, event numbers and queue settings."""

    demo: Any
    url: str
    store: Any
    functions: dict[str, int]  # fn_index by API name
    max_queue: int
    concurrency: int


def launch_app(home: Path) -> App:
    """The app on the shipped model, its feedback database in ``home``, on a free localhost port."""
    from faceage_lib.app import admission, page
    from faceage_lib.feedback import FeedbackStore

    store = FeedbackStore(f"sqlite:///{home / 'feedback.db'}")
    demo = page.build_app(None, store)
    _, url, _ = demo.launch(
        server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True, **page.LAUNCH_OPTIONS
    )
    functions = {fn.api_name: fn._id for fn in demo.fns.values() if fn.api_name}
    photo_lane = admission.LANES["photo"]
    return App(demo, url, store, functions, photo_lane.waiting, photo_lane.concurrency)


# --------------------------------------------------------------------------- Gradio's protocol


async def upload(client: httpx.AsyncClient, photo: Photo) -> dict:
    """The FileData of ``photo`` uploaded to the app."""
    return await upload_bytes(client, photo.name, photo.data)


async def upload_bytes(client: httpx.AsyncClient, name: str, data: bytes) -> dict:
    """The FileData of a file ``name`` holding ``data``, uploaded to the app."""
    response = await client.post("gradio_api/upload", files=[("files", (name, data, "application/octet-stream"))])
    if response.status_code != 200:
        raise Failure(f"upload HTTP {response.status_code}", response.text)
    return {"path": response.json()[0], "orig_name": name, "meta": {"_type": "gradio.FileData"}}


def address(session: str) -> str:
    """The address a session's user sends from: one of its own, made from the session's id."""
    return "10." + ".".join(str(int(session[i : i + 2], 16)) for i in (0, 2, 4))


async def call(client: httpx.AsyncClient, fn_index: int, data: list, session: str, who: str | None = None) -> list:
    """Join the queue with ``data`` and wait for the event's outputs on the session's stream.

    ``who``: the sender's address (by default one of the session's own)."""
    body = {"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None, "trigger_id": None}
    joined = await client.post("gradio_api/queue/join", json=body, headers={"X-Forwarded-For": who or address(session)})
    if joined.status_code == 503:  # the queue, a lane or the per-client limit is full
        raise Failure("refused (503)", joined.json().get("detail", joined.text))
    if joined.status_code != 200:
        raise Failure(f"join HTTP {joined.status_code}", joined.text)
    event_id = joined.json()["event_id"]
    async with client.stream("GET", "gradio_api/queue/data", params={"session_hash": session}) as stream:
        if stream.status_code != 200:
            raise Failure(f"stream HTTP {stream.status_code}")
        async for line in stream.aiter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("event_id") == event_id and message["msg"] == "process_completed":
                    return _outputs(message)
                if message["msg"] in ("close_stream", "unexpected_error"):
                    raise Failure(f"stream ended: {message['msg']}", str(message.get("message", "")))
    raise Failure("stream closed without an answer")


def _outputs(message: dict) -> list:
    if not message.get("success"):
        raise Failure("app error", str(message.get("output", {}).get("error")))
    return message["output"]["data"]


async def timed(request: Awaitable[int | None]) -> Outcome:
    """Run one request; its latency and either the feedback id it returns or the kind of error."""
    started = time.perf_counter()
    try:
        entry_id = await request
    except Failure as failure:
        return Outcome(time.perf_counter() - started, failure)
    except httpx.HTTPError as error:
        return Outcome(time.perf_counter() - started, Failure(f"connection: {type(error).__name__}", str(error)))
    return Outcome(time.perf_counter() - started, entry_id=entry_id)


async def all_at_once(requests: list[Awaitable[int | None]], bound: float) -> tuple[list[Outcome | None], float]:
    """Start every request at once; their outcomes (``None``: no answer within ``bound`` s) and the wall time."""
    started = time.perf_counter()
    tasks = [asyncio.ensure_future(timed(request)) for request in requests]
    done, pending = await asyncio.wait(tasks, timeout=bound)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return [task.result() if task in done else None for task in tasks], time.perf_counter() - started


# --------------------------------------------------------------------------- requests


async def predict(
    client: httpx.AsyncClient, fn_index: int, photo: Photo, uploaded: dict | None = None, who: str | None = None
) -> None:
    """Upload ``photo`` (unless ``uploaded``), analyse it in a new session, and check the whole answer."""
    file = uploaded or await upload(client, photo)
    annotated, table, message, *_ = await call(client, fn_index, [file], uuid.uuid4().hex, who)
    if message != photo.message or table["data"] != photo.rows:
        raise Failure("wrong answer", f"{message} {table['data']}")
    await check_image(client, annotated, photo.size)


async def check_image(client: httpx.AsyncClient, annotated: dict | None, size: tuple[int, int]) -> None:
    """The annotated image downloads whole, decodes, and has the size this photo gives."""
    if not annotated:
        raise Failure("no annotated image")
    response = await client.get(annotated["url"])
    if response.status_code != 200:
        raise Failure(f"image HTTP {response.status_code}")
    try:
        with Image.open(io.BytesIO(response.content)) as image:
            image.load()
            shown = image.size
    except OSError as error:
        raise Failure("truncated image", str(error)) from None
    if shown != size:
        raise Failure("wrong image", f"{shown} instead of {size}")


async def feedback(client: httpx.AsyncClient, fn_index: int, session: str, age: int) -> int:
    """Send face 1, true age ``age``, with consent; the id of the entry the app says it stored."""
    message, *_ = await call(client, fn_index, [None, 1, str(age), _gender_sent(age), True], session)
    stored = THANKS.fullmatch(message)
    if not stored:
        raise Failure("not stored", message)
    return int(stored[1])


def _gender_sent(age: int) -> str:
    return "female" if age % 2 else "not given"


# --------------------------------------------------------------------------- scenarios


def summarise(name: str, outcomes: list[Outcome | None], wall_s: float, bound: float) -> Report:
    """Count the answered, failed (by kind) and lost requests of one scenario."""
    report = Report(name, len(outcomes), wall_s=wall_s)
    for outcome in outcomes:
        if outcome is None:
            report.lost += 1
            report.examples.setdefault("lost", f"no answer within {bound:g} s")
        elif outcome.error:
            report.errors[outcome.error.kind] += 1
            report.slowest_failure_s = max(report.slowest_failure_s or 0.0, outcome.seconds)
            report.examples.setdefault(outcome.error.kind, outcome.error.detail)
        else:
            report.answered += 1
            report.latencies.append(outcome.seconds)
    return report


async def predictions(client: httpx.AsyncClient, fn_index: int, name: str, photos: list[Photo], bound: float) -> Report:
    """Every photo analysed at once, each uploaded by its own request."""
    outcomes, wall = await all_at_once([predict(client, fn_index, photo) for photo in photos], bound)
    return summarise(name, outcomes, wall, bound)


async def burst(client: httpx.AsyncClient, app: App, photo: Photo, count: int, bound: float) -> Report:
    """``count`` analyses of one photo uploaded beforehand, so that they all reach the queue at once."""
    uploaded = await upload(client, photo)
    requests = [predict(client, app.functions["analyze"], photo, uploaded) for _ in range(count)]
    outcomes, wall = await all_at_once(requests, bound)
    return summarise(
        f"burst of {count} predictions (Photo lane: {app.max_queue} waiting + {app.concurrency} workers)",
        outcomes,
        wall,
        bound,
    )


async def feedbacks(client: httpx.AsyncClient, app: App, photo: Photo, count: int, bound: float) -> Report:
    """``count`` sessions analyse the photo, then all send feedback at once; the store is checked after.

    Lost: no answer within the bound, or no row in the store (whatever the answer said).
    """
    uploaded = await upload(client, photo)
    sessions = [uuid.uuid4().hex for _ in range(count)]
    await prepare_sessions(client, app.functions["analyze"], uploaded, sessions, bound)
    before = {entry.id for entry in app.store.entries()}
    requests = [feedback(client, app.functions["feedback"], session, age) for age, session in enumerate(sessions)]
    outcomes, wall = await all_at_once(requests, bound)
    rows = {entry.id: entry for entry in app.store.entries() if entry.id not in before}
    report = summarise(f"{count} feedback submissions", _checked(outcomes, rows), wall, bound)
    ages = Counter(entry.true_age for entry in rows.values())
    report.stored = sum(1 for age in range(count) if ages[age])
    report.duplicated = len(rows) - report.stored  # second copies, and rows of ages never sent
    report.lost = sum(1 for age, outcome in enumerate(outcomes) if outcome is None or not ages[age])
    if report.lost > sum(1 for outcome in outcomes if outcome is None):
        report.examples.setdefault("not in the store", "a submission has no row in the feedback database")
    return report


async def prepare_sessions(
    client: httpx.AsyncClient, fn_index: int, uploaded: dict, sessions: list[str], bound: float
) -> None:
    """Analyse the photo in each session, so that its state holds the face; raises if one fails.
    They go in groups the Photo lane holds."""
    from faceage_lib.app.admission import LANES

    outcomes, group = [], LANES["photo"].waiting
    for first in range(0, len(sessions), group):
        requests = [call(client, fn_index, [uploaded], session) for session in sessions[first : first + group]]
        outcomes += (await all_at_once(requests, bound))[0]
    failed = [outcome for outcome in outcomes if outcome is None or outcome.error]
    if failed:
        raise RuntimeError(
            f"{len(failed)} of {len(sessions)} sessions could not analyse the photo "
            f"before the feedback scenario: {failed[0]}"
        )


def _checked(outcomes: list[Outcome | None], rows: dict[int, Any]) -> list[Outcome | None]:
    """Feedback outcomes, where an entry that does not hold the age and gender sent becomes a failure."""
    checked = []
    for age, outcome in enumerate(outcomes):
        entry = rows.get(outcome.entry_id) if outcome and not outcome.error else None
        wanted = None if _gender_sent(age) == "not given" else _gender_sent(age)
        if outcome and not outcome.error and (entry is None or (entry.true_age, entry.true_gender) != (age, wanted)):
            outcome = Outcome(outcome.seconds, Failure("wrong entry", f"#{outcome.entry_id} for age {age}"))
        checked.append(outcome)
    return checked


# --------------------------------------------------------------------------- abuse (issue 17)


def _encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def scan_bomb() -> bytes:
    """A progressive 8000 x 8000 JPEG with 20,000 scans (2 MB; minutes of decoding without a limit)."""
    jpeg = _encoded(Image.new("L", (8000, 8000), 128), "JPEG", progressive=True)
    starts = [m.start() for m in re.finditer(b"\xff\xda", jpeg)]
    scans = [jpeg[start:end] for start, end in zip(starts, starts[1:] + [len(jpeg) - 2])]
    return jpeg[:-2] + min(scans, key=len) * (20_000 - len(scans)) + jpeg[-2:]


LOOPING_EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n{ } loop\nshowpage\n"


def reset_peak_rss() -> None:
    """Start this process's peak resident memory (VmHWM) afresh (Linux; elsewhere nothing happens)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_rss_mb() -> int | None:
    try:
        line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return None
    return round(int(line.split()[1]) / 1024)


async def abused(
    client: httpx.AsyncClient,
    app: App,
    name: str,
    requests: list[Awaitable],
    normal: Photo,
    bound: float,
    delay: float = 0.5,
) -> Report:
    """Start ``requests`` at once and, ``delay`` s later, another user's normal photo; both outcomes,
    and the process's peak memory meanwhile."""
    reset_peak_rss()
    flood = asyncio.ensure_future(all_at_once(requests, bound))
    await asyncio.sleep(delay)
    normal_outcome = await timed(predict(client, app.functions["analyze"], normal, who="192.168.0.1"))
    outcomes, wall = await flood
    report = summarise(name, outcomes, wall, bound)
    report.normal_photo, report.peak_rss_mb = normal_outcome, peak_rss_mb()
    return report


async def refused_photo(client: httpx.AsyncClient, app: App, name: str, data: bytes) -> None:
    """Send a file that is no usable photo to the Photo tab; the app must say it could not be read."""
    file = await upload_bytes(client, name, data)
    _, _, message, *_ = await call(client, app.functions["analyze"], [file], uuid.uuid4().hex)
    if "could not be read" not in message:
        raise Failure("not refused", message)


async def crowd(client: httpx.AsyncClient, app: App, files: list[dict], session: str | None = None) -> None:
    """One Many-photos request of ``files`` (uploaded); it must come back with its summary."""
    _, _, _, message = await call(client, app.functions["crowd"], [files], session or uuid.uuid4().hex)
    if not message.startswith("**"):
        raise Failure("no summary", str(message))


async def abuses(client: httpx.AsyncClient, app: App, normal: Photo, scale: float, bound: float) -> list[Report]:
    """The hostile scenarios of issue 17, one after the other."""
    tiny = _encoded(Image.new("P", (1, 1)), "GIF")
    gif = await upload_bytes(client, "tiny.gif", tiny)
    greedy, normal_data = address("ffffff"), await upload(client, normal)
    gifs = _zip({f"{i}.gif": _encoded(Image.new("P", (8000, 8000)), "GIF") for i in range(_scaled(ZIP_GIFS, scale))})
    huge_gifs = await upload_bytes(client, "gifs.zip", gifs)
    webp = _encoded(Image.new("RGB", (6000, 4000), (90, 100, 110)), "WEBP", quality=50)  # WebP's limit
    webps = [await upload_bytes(client, f"big{i}.webp", webp) for i in range(BIG_WEBPS)]
    bomb = scan_bomb()
    flood = _scaled(CROWD_FLOOD, scale)
    reports = [
        await abused(
            client,
            app,
            f"{flood} Many-photos requests of a {len(tiny)}-byte GIF, each from its own client",
            [crowd(client, app, [gif]) for _ in range(flood)],
            normal,
            bound,
        ),
        await abused(
            client,
            app,
            f"one client sends {GREEDY_CLIENT} photos at once",
            [predict(client, app.functions["analyze"], normal, normal_data, greedy) for _ in range(GREEDY_CLIENT)],
            normal,
            bound,
        ),
        await abused(
            client,
            app,
            "2 JPEGs of 20,000 scans and 2 looping EPS named .jpg, to the Photo tab",
            [
                refused_photo(client, app, "scans.jpg", bomb),
                refused_photo(client, app, "scans2.jpg", bomb),
                refused_photo(client, app, "loop.jpg", LOOPING_EPS),
                refused_photo(client, app, "loop2.jpg", LOOPING_EPS),
            ],
            normal,
            bound,
            delay=0.2,
        ),
        await abused(
            client,
            app,
            f"a zip of {_scaled(ZIP_GIFS, scale)} GIFs of 8000x8000 ({len(gifs) // 1024} KB) to Many photos",
            [crowd(client, app, [huge_gifs])],
            normal,
            bound,
        ),
        await abused(
            client,
            app,
            f"{BIG_WEBPS} WebPs of 6000x4000 ({len(webp) // 1024} KB) to Many photos at once",
            [crowd(client, app, [file]) for file in webps],
            normal,
            bound,
        ),
        await upload_flood(client, app, normal, _scaled(UPLOADS_25MB, scale), bound),
    ]
    return reports


async def upload_flood(client: httpx.AsyncClient, app: App, normal: Photo, count: int, bound: float) -> Report:
    """``count`` uploads of 25 MB with no action; the upload store's size after them, and one sweep later."""
    from faceage_lib.app import uploads

    data = os.urandom(uploads.MAX_FILE_SIZE - 4096)
    report = await abused(
        client,
        app,
        f"{count} uploads of 25 MB ({count * 25 / 1024:.1f} GB), no action",
        [upload_bytes(client, f"junk{i}.bin", data) for i in range(count)],
        normal,
        bound,
    )
    after = _store_mb(uploads.upload_folder())
    await asyncio.sleep(uploads.SWEEP_EVERY_S + 5)
    report.note = (
        f"upload store {after:.0f} MB after the uploads, {_store_mb(uploads.upload_folder()):.0f} MB "
        f"{uploads.SWEEP_EVERY_S + 5} s later (bound {uploads.MAX_STORE_BYTES // 2**20} MB)"
    )
    return report


def _store_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


async def run_scenarios(app: App, photos: list[Photo], scale: float, bound: float) -> list[Report]:
    """The four scenarios, one after the other, against the served app."""
    analyze, same = app.functions["analyze"], _scaled(SAME_PHOTO, scale)
    beyond = app.max_queue + max(app.concurrency + 1, _scaled(BURST_EXTRA, scale))  # more than it holds
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=50)
    async with httpx.AsyncClient(base_url=app.url, timeout=httpx.Timeout(bound), limits=limits) as client:
        return [
            await predictions(client, analyze, f"{same} predictions, same photo", [photos[0]] * same, bound),
            await predictions(client, analyze, f"{len(photos)} predictions, different photos", photos, bound),
            await feedbacks(client, app, photos[0], _scaled(FEEDBACKS, scale), bound),
            await burst(client, app, photos[0], beyond, bound),
            *await abuses(client, app, photos[1], scale, bound),
        ]


def _lanes() -> dict:
    from faceage_lib.app.admission import LANES

    return LANES


def _scaled(count: int, scale: float) -> int:
    return max(1, math.ceil(count * scale))


# --------------------------------------------------------------------------- output


def markdown(reports: list[Report], settings: dict) -> str:
    """A small table of the scenarios, with how it was measured."""
    lanes = ", ".join(
        f"{lane['title']} {lane['concurrency']} at once + {lane['waiting']} waiting"
        for lane in settings["lanes"].values()
    )
    setup = (
        f"`{settings['command']}` ({settings['wall_s']:.0f} s in all): the app served in-process on "
        f"localhost on the shipped model; lanes: {lanes}; time bound {settings['time_bound_s']:g} s per "
        f"scenario; {settings['cpus']} CPUs, load average {settings['load_average']:.1f} at the start. "
        "Latencies (s) are of the answered requests; a normal photo (another user's) is sent 0.2-0.5 s "
        "after an abuse starts."
    )
    lines = [
        "# The app under load",
        "",
        setup,
        "",
        "| scenario | sent | answered | failed (kinds) | lost | stored | duplicated | p50 | p95 | max | wall "
        "| normal photo meanwhile (s) | peak RSS (MB) |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for report in reports:
        row = report.to_dict()
        kinds = ", ".join(f"{kind}: {n}" for kind, n in sorted(row["errors"].items())) or "none"
        latency = row["latency_s"] or {"p50": "-", "p95": "-", "max": "-"}
        stored = "-" if row["stored"] is None else row["stored"]
        duplicated = "-" if row["stored"] is None else row["duplicated"]
        normal = row["normal_photo"]
        meanwhile = (
            "-"
            if normal is None
            else f"{normal['seconds']}" + ("" if normal["answered"] else f" (not answered: {normal['error']})")
        )
        lines.append(
            f"| {row['name']} | {row['sent']} | {row['answered']} | {row['failed']} ({kinds}) | {row['lost']} "
            f"| {stored} | {duplicated} | {latency['p50']} | {latency['p95']} | {latency['max']} "
            f"| {row['wall_s']} | {meanwhile} | {row['peak_rss_mb'] or '-'} |"
        )
    notes = [f"- {row['name']}: {row['note']}" for row in map(Report.to_dict, reports) if row["note"]]
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


def all_kept(reports: list[Report]) -> bool:
    """No request lost or duplicated in any scenario."""
    return not any(report.lost or report.duplicated for report in reports)


def write_results(reports: list[Report], settings: dict) -> str:
    """Write load.json and load.md; returns the Markdown."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {"settings": settings, "scenarios": [report.to_dict() for report in reports], "ok": all_kept(reports)}
    (RESULTS / "load.json").write_text(json.dumps(result, indent=2) + "\n")
    table = markdown(reports, settings)
    (RESULTS / "load.md").write_text(table)
    return table


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--count-scale",
        type=float,
        default=1.0,
        help="multiply the request counts by this (0-1], e.g. 0.2 for a quick try",
    )
    parser.add_argument(
        "--time-bound",
        type=float,
        default=TIME_BOUND_S,
        help=f"seconds each scenario may take before unanswered requests count as lost (default {TIME_BOUND_S:g})",
    )
    args = parser.parse_args(argv)
    if not 0 < args.count_scale <= 1:
        parser.error("--count-scale must be in (0, 1]: feedback ages 0-120 mark the submissions")
    return args


def main(argv: list[str] | None = None) -> int:
    args, started = parse_args(argv), time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="faceage-load-") as tmp:
        home = Path(tmp)
        os.environ["FACEAGE_HOME"] = str(home)
        os.environ["GRADIO_TEMP_DIR"] = str(home / "gradio")  # read when Gradio is imported, below
        os.environ["FACEAGE_TRUST_FORWARDED"] = "1"  # each simulated user sends from an address of its own
        photos = expected_photos(make_photos(_scaled(DIFFERENT_PHOTOS, args.count_scale)))
        app = launch_app(home)
        settings = {
            "command": " ".join(["python benchmarks/load.py", *(sys.argv[1:] if argv is None else argv)]),
            "count_scale": args.count_scale,
            "time_bound_s": args.time_bound,
            "max_queue": app.max_queue,
            "lanes": {name: vars(lane) for name, lane in _lanes().items()},
            "concurrency_limit": app.concurrency,
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg()[0],
        }
        try:
            reports = asyncio.run(run_scenarios(app, photos, args.count_scale, args.time_bound))
        finally:
            app.demo.close()
    settings["wall_s"] = round(time.perf_counter() - started, 1)
    print(write_results(reports, settings))
    return 0 if all_kept(reports) else 1


if __name__ == "__main__":
    sys.exit(main())
