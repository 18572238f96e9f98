"""faceage_lib.video on generated clips: people followed, summarised, and the clip written back annotated."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from faceage_lib import cli, video
from faceage_lib.errors import VideoError


def write_clip(path, seconds: float = 2.0, fps: int = 10, second_from: float | None = 1.0) -> None:
    """The astronaut on the left for the whole clip; a mirrored one on the right from ``second_from`` s."""
    from skimage import data

    head = np.asarray(Image.fromarray(data.astronaut()).crop((100, 0, 360, 260)).resize((150, 150)))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (480, 240))
    for index in range(round(seconds * fps)):
        frame = np.full((240, 480, 3), 80, np.uint8)
        frame[40:190, 20 + index % 3 : 170 + index % 3] = head
        if second_from is not None and index / fps >= second_from:
            frame[50:200, 300:450] = head[:, ::-1]
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    write_clip(path)
    return path


def test_a_clip_round_trip(predictor, clip, tmp_path):
    """A clip in; an annotated clip out (same length, boxes drawn) and one row per person."""
    done = []
    result = video.analyze_video(predictor, clip, tmp_path / "out.webm", per_frame=True, progress=done.append)
    assert result.frames == 20 and result.seconds == 2.0
    assert [p["person"] for p in result.people] == [1, 2]
    first, second = result.people
    assert first["first_seen_s"] == 0 and second["first_seen_s"] == pytest.approx(1.0)
    assert first["seconds_seen"] == pytest.approx(2.0) and second["seconds_seen"] == pytest.approx(1.0)
    assert first["age_low"] <= first["age"] <= first["age_high"]
    assert first["gender"] in ("female", "male", "uncertain")
    assert done and done[-1] == 1.0 and done == sorted(done)
    assert len(result.per_frame) == 20 and {f["person"] for f in result.per_frame[-1]["faces"]} == {1, 2}
    written = cv2.VideoCapture(str(result.annotated))
    count, changed = 0, False
    source = cv2.VideoCapture(str(clip))
    while True:
        ok, frame = written.read()
        ok_source, original = source.read()
        if not ok:
            break
        count += 1
        changed |= ok_source and np.abs(frame.astype(int) - original.astype(int)).max() > 100
    assert count == 20 and changed  # every frame, with boxes


def test_bad_and_huge_videos_get_a_clear_error(predictor, tmp_path, monkeypatch):
    notes = tmp_path / "notes.mp4"
    notes.write_bytes(b"not a video" * 100)
    with pytest.raises(VideoError, match="not a video that can be read"):
        video.analyze_video(predictor, notes)
    with pytest.raises(VideoError, match="cannot be read"):
        video.analyze_video(predictor, tmp_path / "missing.mp4")
    long_clip = tmp_path / "long.mp4"
    write_clip(long_clip, seconds=1.0, second_from=None)
    monkeypatch.setattr(video, "MAX_VIDEO_SECONDS", 0.5)
    with pytest.raises(VideoError, match="more than the 0.5 s limit"):
        video.analyze_video(predictor, long_clip)
    monkeypatch.setattr(video, "MAX_VIDEO_BYTES", 100)
    with pytest.raises(VideoError, match="MB limit"):
        video.analyze_video(predictor, long_clip)


def test_cli_predict_a_video(clip, tiny_model_dir, capsys, tmp_path):
    """``faceage predict clip.mp4``: JSON per person (and per frame with --frames), or CSV per person."""
    assert cli.main(["predict", str(clip), "--model", str(tiny_model_dir), "--frames", "--quiet"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["path"] == str(clip) and record["error"] is None
    assert [p["person"] for p in record["people"]] == [1, 2] and len(record["frames"]) == 20
    out = tmp_path / "people.csv"
    assert cli.main(["predict", str(clip), "--model", str(tiny_model_dir), "--format", "csv", "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0].startswith("path,person,age,age_low,age_high,gender") and len(lines) == 3


def test_app_video_tab(app_server, clip, tmp_path):
    """The app's /video event: the annotated clip back, one row per person, a CSV; a bad file gets a message."""
    from gradio_client import Client, handle_file

    url, _ = app_server
    app = Client(url, verbose=False)
    player, table, csv, message = app.predict(handle_file(str(clip)), api_name="/video")
    assert Path(player).suffix == ".webm" and Path(player).stat().st_size > 1000  # downloaded
    assert "2 people in 2.0 s" in message
    assert [row[0] for row in table["data"]] == [1, 2] and csv
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video" * 100)
    player, table, _, message = app.predict(handle_file(str(bad)), api_name="/video")
    assert player is None and not table["data"] and "could not be used" in message
