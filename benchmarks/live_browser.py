"""The live webcam view as a person sees it: annotated frames arriving per second in a real Chromium
page, the gaps between them, and how much the age shown for a still face wavers.

    python benchmarks/live_browser.py [--seconds 10] [--rounds 3]   # writes results/live_browser.json and .md

Starts the app on the shipped model, points headless Chromium's fake camera (at the size the page
asks for) at a generated 640x480 clip of the astronaut (NASA, public domain, via scikit-image)
holding still with sensor noise, at a webcam's 30 frames a second (a camera frame sent twice comes
back as the same picture, so the clip's rate caps the count), presses Record and counts the
annotated frames that reach the page (each load of a new picture in the live image, timed in the
page by its load events: no polling to slow the page). The jitter is the spread of the age the live
view shows for that still face over the same number of seconds at 30 frames a second (the same
frames through the stream handler, in-process). Needs
``/usr/bin/chromium`` and Playwright.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import tempfile
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from faceage_lib import Predictor
from faceage_lib.app.live import annotate_frame, new_tracker

RESULTS = Path(__file__).parent / "results"
CHROMIUM = "/usr/bin/chromium"
SIZE, FPS = (640, 480), 30


def still_face_frames(count: int, seed: int = 0) -> list[np.ndarray]:
    """The astronaut's head and shoulders, still, with a little sensor noise in every frame."""
    from skimage import data

    face = Image.fromarray(data.astronaut()).crop((100, 0, 360, 260)).resize((260, 260))
    canvas = Image.new("RGB", SIZE, (70, 90, 110))
    canvas.paste(face, (190, 110))
    base = np.asarray(canvas).astype(np.int16)
    rng = np.random.default_rng(seed)
    return [np.clip(base + rng.normal(0, 4, base.shape), 0, 255).astype(np.uint8) for _ in range(count)]


def write_y4m(frames: list[np.ndarray], path: Path) -> None:
    """The frames as a YUV4MPEG2 clip, the format Chromium's fake camera plays (in a loop)."""
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{SIZE[0]} H{SIZE[1]} F{FPS}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            out.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())


def age_jitter(predictor: Predictor, frames: list[np.ndarray]) -> dict:
    """The age the live view shows for the still face, frame after frame (its stream handler's
    work, in-process): its spread, and how often the model estimated the face (it looks again only
    at faces new, moved or due)."""
    tracker, shown, estimated = new_tracker(predictor), [], []
    plain = predictor.estimate

    def estimate(located, which):
        estimated.extend(which)
        return plain(located, which)

    predictor.estimate = estimate  # type: ignore[method-assign]
    for frame in frames:
        _, tracker = annotate_frame(predictor, frame, tracker)
        if tracker.tracks:
            shown.append(tracker.tracks[0].face.age)
    settled = shown[FPS:]  # after the first second, as the estimate settles
    return {
        "frames": len(shown),
        "estimates_per_s": round(len(estimated) * FPS / len(frames), 1),
        "age_min": round(min(settled), 2),
        "age_max": round(max(settled), 2),
        "age_sd": round(statistics.pstdev(settled), 2),
        "age_range": round(max(settled) - min(settled), 2),
    }


COUNT_FRAMES_JS = """(seconds) => new Promise((resolve) => {
  const times = [];
  const loaded = (event) => { if (event.target.closest?.('#faceage-live')) times.push(performance.now()); };
  document.addEventListener('load', loaded, true);  // each new frame, once decoded: no polling to slow the page
  setTimeout(() => { document.removeEventListener('load', loaded, true); resolve(times); }, seconds * 1000);
})"""


def browser_frames(url: str, clip: Path, seconds: float, rounds: int) -> dict:
    """Annotated frames reaching the page in ``rounds`` counts of ``seconds`` each, once the first
    frame has come: each round's frames a second, their median, and the gaps of all rounds."""
    from playwright.sync_api import sync_playwright

    args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}",
    ]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        page.get_by_role("tab", name="Live webcam").click()
        page.get_by_text("Click to Access Webcam").click()
        page.locator("#faceage-camera button", has_text="Record").click(timeout=60_000)
        page.wait_for_function("() => document.querySelector('#faceage-live img')?.src", timeout=60_000)
        page.wait_for_timeout(2000)  # warmed up
        counts = [page.evaluate(COUNT_FRAMES_JS, seconds) for _ in range(rounds)]
        browser.close()
    gaps = np.concatenate([np.diff(times) for times in counts])
    fps = [(len(times) - 1) / ((times[-1] - times[0]) / 1000) for times in counts]
    return {
        "seconds": seconds,
        "frames": sum(len(times) for times in counts),
        "fps": round(statistics.median(fps), 1),
        "fps_rounds": [round(value, 1) for value in fps],
        "gap_ms_median": round(float(np.median(gaps)), 1),
        "gap_ms_p95": round(float(np.percentile(gaps, 95)), 1),
        "gap_ms_max": round(float(gaps.max()), 1),
    }


def markdown(result: dict) -> str:
    live, jitter = result["browser"], result["jitter"]
    rounds = ", ".join(map(str, live["fps_rounds"]))
    return "\n".join(
        [
            f"# The live view in Chromium (fake camera, shipped model; {result['cpus']} CPUs, load average "
            f"{result['load_average_before']} before, {result['load_average_1min']} as it ran)",
            "",
            "| annotated frames/s in the page (median of rounds) | rounds | gap median | gap p95 | gap max "
            f"| age shown for a still face over {live['seconds']:.0f} s | the model's estimates of it a second |",
            "|---:|---|---:|---:|---:|---|---:|",
            f"| {live['fps']} | {rounds} of {live['seconds']:.0f} s | {live['gap_ms_median']} ms "
            f"| {live['gap_ms_p95']} ms | {live['gap_ms_max']} ms "
            f"| {jitter['age_min']}-{jitter['age_max']} years (sd {jitter['age_sd']}) | {jitter['estimates_per_s']} |",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10, help="length of a round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    idle = os.getloadavg()[0]  # other work on the machine before this script's own
    from faceage_lib.app.page import LAUNCH_OPTIONS, build_app

    frames = still_face_frames(round(args.seconds * FPS))
    with tempfile.TemporaryDirectory() as work:
        clip = Path(work) / "still_face.y4m"
        write_y4m(frames[: FPS * 4], clip)  # 4 s, looped by Chromium
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        demo = build_app()
        _, url, _ = demo.launch(
            server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **LAUNCH_OPTIONS
        )
        load = os.getloadavg()[0]  # the machine's load as the count starts: other work on the same cores
        try:
            live = browser_frames(url, clip, args.seconds, args.rounds)
        finally:
            demo.close()
    result = {
        "browser": live,
        "jitter": age_jitter(Predictor(), frames),
        "cpus": os.cpu_count(),
        "load_average_before": round(idle, 2),
        "load_average_1min": round(load, 2),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "live_browser.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "live_browser.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
