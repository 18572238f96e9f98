"""The live webcam view as a person sees it: annotated frames arriving per second in a real Chromium
page, the gaps between them, and how much the age shown for a still face wavers.

    python benchmarks/live_browser.py [--seconds 10]   # writes results/live_browser.json and .md

Starts the app on the shipped model, points headless Chromium's fake camera (at the size the page
asks for) at a generated 640x480 clip of the astronaut (NASA, public domain, via scikit-image)
holding still with sensor noise, presses Record and counts the annotated frames that reach the page
(each new ``src`` of the live image, timed in the page). The jitter is the spread of the age the tracker
shows for that still face over the same number of seconds at 25 frames a second (the same frames, in-process). Needs
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
from faceage_lib.app.live import new_tracker

RESULTS = Path(__file__).parent / "results"
CHROMIUM = "/usr/bin/chromium"
SIZE, FPS = (640, 480), 25


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
    """The age the live view shows for the still face, frame after frame: its spread."""
    tracker, shown = new_tracker(predictor), []
    for frame in frames:
        tracks = tracker.update(predictor.predict(frame))
        if tracks:
            shown.append(tracks[0].face.age)
    settled = shown[FPS:]  # after the first second, as the estimate settles
    return {
        "frames": len(shown),
        "age_min": round(min(settled), 2),
        "age_max": round(max(settled), 2),
        "age_sd": round(statistics.pstdev(settled), 2),
        "age_range": round(max(settled) - min(settled), 2),
    }


COUNT_FRAMES_JS = """(seconds) => new Promise((resolve) => {
  const times = []; let last = null;
  const tick = () => {
    const img = document.querySelector('#faceage-live img');
    if (img && img.src && img.src !== last && img.complete) { last = img.src; times.push(performance.now()); }
  };
  const timer = setInterval(tick, 2);
  setTimeout(() => { clearInterval(timer); resolve(times); }, seconds * 1000);
})"""


def browser_frames(url: str, clip: Path, seconds: float) -> dict:
    """Annotated frames reaching the page over ``seconds``, once the first has come."""
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
        times = page.evaluate(COUNT_FRAMES_JS, seconds)
        browser.close()
    gaps = np.diff(times)
    fps = (len(times) - 1) / ((times[-1] - times[0]) / 1000)
    return {
        "seconds": seconds,
        "frames": len(times),
        "fps": round(fps, 1),
        "gap_ms_median": round(float(np.median(gaps)), 1),
        "gap_ms_p95": round(float(np.percentile(gaps, 95)), 1),
        "gap_ms_max": round(float(gaps.max()), 1),
    }


def markdown(result: dict) -> str:
    live, jitter = result["browser"], result["jitter"]
    return "\n".join(
        [
            f"# The live view in Chromium (fake camera, shipped model; {result['cpus']} CPUs, load average "
            f"{result['load_average_1min']} as it ran)",
            "",
            "| annotated frames/s in the page | gap median | gap p95 | gap max | age shown for a still face over "
            f"{result['browser']['seconds']:.0f} s |",
            "|---:|---:|---:|---:|---|",
            f"| {live['fps']} | {live['gap_ms_median']} ms | {live['gap_ms_p95']} ms | {live['gap_ms_max']} ms "
            f"| {jitter['age_min']}-{jitter['age_max']} years (sd {jitter['age_sd']}) |",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
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
            live = browser_frames(url, clip, args.seconds)
        finally:
            demo.close()
    result = {
        "browser": live,
        "jitter": age_jitter(Predictor(), frames),
        "cpus": os.cpu_count(),
        "load_average_1min": round(load, 2),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "live_browser.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "live_browser.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
