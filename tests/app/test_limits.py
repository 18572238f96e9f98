"""The app's bounds (issue 17): lanes and a per-client limit on the queue, live frames read as photos
are, quiet streams freed, bounded expiring session state, Many-photos pixel caps, a swept upload store."""

from __future__ import annotations

import io
import os
import time
import zipfile
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from faceage_lib.app import admission, analysis, crowd, tabs, uploads
from faceage_lib.app.components import PhotoInput
from faceage_lib.app.live import annotate_frame
from faceage_lib.app.page import LAUNCH_OPTIONS, build_app
from faceage_lib.feedback import FeedbackStore
from faceage_lib.inference.predictor import Analysis, FaceResult


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def demo(tiny_model_dir, tmp_path_factory):
    return build_app(tiny_model_dir, FeedbackStore(f"sqlite:///{tmp_path_factory.mktemp('db') / 'fb.db'}"))


# --------------------------------------------------------------------------- queue


def _request(host: str, forwarded: str = ""):
    headers = {"x-forwarded-for": forwarded} if forwarded else {}
    return SimpleNamespace(client=SimpleNamespace(host=host), headers=headers)


def _queue(waiting: dict[str, list], running: list):
    lanes = {
        name: SimpleNamespace(queue=[SimpleNamespace(request=_request(h)) for h in hosts])
        for name, hosts in waiting.items()
    }
    return SimpleNamespace(
        event_queue_per_concurrency_id=lanes,
        active_jobs=[[SimpleNamespace(request=_request(h))] for h in running] + [None],
    )


def test_a_full_lane_refuses_only_its_own_work():
    full = {"crowd": [f"10.0.0.{i}" for i in range(admission.LANES["crowd"].waiting)]}
    queue = _queue(full, [])
    assert "Many photos tab is busy" in admission.refusal_for(queue, "crowd", "10.9.9.9")
    assert admission.refusal_for(queue, "photo", "10.9.9.9") == ""
    assert admission.refusal_for(queue, "feedback", "10.9.9.9") == ""


def test_one_client_may_have_only_so_many_requests_waiting_or_running():
    queue = _queue({"photo": ["1.1.1.1"] * 4, "crowd": ["1.1.1.1"]}, running=["1.1.1.1"])
    assert "6 requests waiting or running" in admission.refusal_for(queue, "feedback", "1.1.1.1")
    assert admission.refusal_for(queue, "photo", "2.2.2.2") == ""


def test_the_client_is_the_peer_unless_a_trusted_proxy_says(monkeypatch):
    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.delenv("FACEAGE_TRUST_FORWARDED", raising=False)
    assert admission.client_of(_request("5.5.5.5", "6.6.6.6, 7.7.7.7")) == "5.5.5.5"  # a header anyone can send
    monkeypatch.setenv("SPACE_ID", "me/faceage")
    assert admission.client_of(_request("5.5.5.5", "6.6.6.6, 7.7.7.7")) == "6.6.6.6"


def test_every_event_runs_in_its_lane_and_the_queue_checks_admission(demo):
    events = {fn.api_name: fn for fn in demo.fns.values() if fn.api_name}
    for name in ("analyze", "feedback", "live", "crowd"):
        lane = {"analyze": "photo"}.get(name, name)
        assert events[name].concurrency_id == lane
        assert events[name].concurrency_limit == admission.LANES[lane].concurrency
    assert demo._queue.max_size == admission.total_waiting()
    assert demo._queue.push.__name__ == "admitted"


def test_no_public_monitoring_and_a_bounded_number_of_sessions():
    assert LAUNCH_OPTIONS["enable_monitoring"] is False
    assert LAUNCH_OPTIONS["state_session_capacity"] == uploads.MAX_SESSIONS <= 1000


# --------------------------------------------------------------------------- live


def test_live_frames_reach_faceage_untouched_and_quiet_streams_are_let_go(demo):
    camera = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "faceage-camera")
    assert isinstance(camera, PhotoInput)
    live = next(fn for fn in demo.fns.values() if fn.api_name == "live")
    assert live.time_limit <= 15  # Gradio waits this long at most for a quiet stream's next frame


def test_live_frames_have_the_photo_limits(predictor, monkeypatch, tmp_path):
    decoded = []
    monkeypatch.setattr(predictor, "analyze", lambda source: decoded.append(source))
    monkeypatch.setattr(uploads, "MAX_FILE_SIZE", 1000)
    assert annotate_frame(predictor, "data:image/png;base64," + "A" * 4000, None)[0] is None
    assert not decoded
    monkeypatch.undo()
    huge = tmp_path / "frame.png"
    huge.write_bytes(_png(1, 1)[:16] + (13000).to_bytes(4, "big") + (13000).to_bytes(4, "big") + _png(1, 1)[24:])
    frame, tracker = annotate_frame(predictor, str(huge), None)  # 169 MP from its header: refused
    assert frame is None and tracker.tracks == []


def test_a_live_frame_by_path_is_annotated(predictor, astronaut, tmp_path):
    path = tmp_path / "frame.jpg"
    Image.fromarray(astronaut).save(path)
    frame, tracker = annotate_frame(predictor, str(path), None)
    assert frame.shape == astronaut.shape and len(tracker.tracks) == 1


# --------------------------------------------------------------------------- session state


def test_session_state_is_bounded_and_expires(demo, monkeypatch):
    states = [b for b in demo.blocks.values() if type(b).__name__ == "State"]
    assert states and all(s.time_to_live <= uploads.STATE_TTL_S for s in states if s.value is None)
    face = FaceResult((0, 0, 10, 10), 0.9, 30.0, 25.0, 35.0, "male", 0.9, 0.1, 0.05)
    many = Analysis(np.zeros((20, 20, 3), np.uint8), [face] * 80, np.zeros((80, 64, 64, 3), np.uint8))
    monkeypatch.setattr(tabs, "analyze", lambda predictor, image: (many, None, [], "80 faces"))
    on_photo = next(fn for fn in demo.fns.values() if fn.api_name == "analyze").fn
    state = on_photo("photo.jpg")[3]
    assert len(state["faces"]) == len(state["crops"]) == analysis.MAX_FEEDBACK_FACES
    assert state["crops"].base is None  # its own copy, not a view that keeps all 80 crops alive


# --------------------------------------------------------------------------- many photos


def _zip(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_many_photos_has_a_budget_of_decoded_pixels(predictor, tmp_path, monkeypatch):
    monkeypatch.setattr(crowd, "MAX_TOTAL_PIXELS", 25_000)
    archive = _zip(tmp_path / "big.zip", {f"{i}.png": _png(100, 100) for i in range(4)})
    result = crowd.analyze_crowd(predictor, [archive], 2**20)
    notes = [row[-1] for row in result.rows]
    assert notes[:2] == ["no face found"] * 2
    assert all("megapixels in all" in note for note in notes[2:]) and result.problems == 2


def test_archives_are_not_opened_past_the_file_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(crowd, "MAX_FILES", 2)
    first = _zip(tmp_path / "a.zip", {"1.png": _png(5, 5), "2.png": _png(5, 5)})
    opened = []
    original = zipfile.ZipFile
    monkeypatch.setattr(zipfile, "ZipFile", lambda path, *a, **k: opened.append(path) or original(path, *a, **k))
    photos = list(crowd.read_photos([first, tmp_path / "b.zip"], 2**20))
    assert opened == [first] and photos[-1].problem.startswith("skipped: at most 2 files")


def test_the_csv_numbers_faces_as_whole_numbers():
    result = crowd.CrowdResult(
        rows=[
            ["a.jpg", 1, "0 0 1 1", "30", "25-35", "male", "90%", "2%", ""],
            ["b.jpg", None, "", "", "", "", "", "", "no face found"],
        ]
    )
    lines = crowd.to_csv(result.table()).splitlines()
    assert lines[1].startswith("a.jpg,1,") and lines[2].startswith("b.jpg,,")


# --------------------------------------------------------------------------- upload store


def _file(path, size: int, age_s: float):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    os.utime(path, (time.time() - age_s, time.time() - age_s))
    return path


def test_the_sweeper_deletes_old_files_and_keeps_the_store_within_its_size(tmp_path):
    old = _file(tmp_path / ("a" * 32) / "old.jpg", 10, age_s=4000)
    older_young = _file(tmp_path / ("b" * 64) / "young1.jpg", 600, age_s=100)
    young = _file(tmp_path / ("c" * 32) / "young2.jpg", 600, age_s=10)
    other = _file(tmp_path / "notes" / "old.txt", 10, age_s=9000)  # not a cache folder: left alone
    sweeper = uploads.UploadSweeper(tmp_path, max_age_s=3000, max_bytes=1000, every_s=0)
    assert sweeper.sweep() == 2
    assert not old.exists() and not older_young.exists() and young.exists() and other.exists()
    assert not (tmp_path / ("a" * 32)).exists()  # empty folders go too


def test_what_an_earlier_run_left_is_swept_at_start_up(tiny_model_dir, tmp_path, monkeypatch):
    left = _file(tmp_path / "uploads" / ("f0" * 16) / "photo.jpg", 10, age_s=uploads.CACHE_MAX_AGE_S + 60)
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "uploads"))
    build_app(tiny_model_dir, FeedbackStore(f"sqlite:///{tmp_path / 'fb.db'}"))
    assert not left.exists()
    assert uploads.CACHE_MAX_AGE_S + uploads.SWEEP_EVERY_S <= 3600  # the page promises 60 minutes
