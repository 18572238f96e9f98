"""Corpus scale: photos per second of ``faceage predict`` with 1 and 2 workers and on Ray with 1 and 2 actors,
peak memory at 10k and 100k photos, and a run killed halfway and resumed.

    python benchmarks/scale.py [--photos 600] [--memory 10000,100000] [--out benchmarks/results]

Photos: the astronaut (``assets/astronaut.jpg``, NASA, public domain) at 60% of the height of a 640x480
canvas of blurred noise, a different place, background and JPEG quality per photo (one face each). Memory:
tiny 80x60 photos (one in 20 a downscaled astronaut, the rest noise: mostly no face, so 100k fit in minutes),
in folders of 1,000, written as JSON Lines by 2 workers; peak memory is the largest resident set of any
process of the run, and the sum over the run's processes sampled every 0.2 s. Every run is a fresh
``faceage predict`` process (its start-up counted); Ray runs join a local Ray instance started before the
clock starts (as a cluster would be running). Writes ``scale.json`` and ``scale.md`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from photos import _on_canvas  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ASTRONAUT = ROOT / "assets" / "astronaut.jpg"
PREDICT = [sys.executable, "-m", "faceage_lib", "predict", "--quiet"]


def face_photos(folder: Path, count: int) -> Path:
    """``count`` 640x480 one-face JPEGs (the astronaut re-encoded with small changes)."""
    face = Image.open(ASTRONAUT)
    folder.mkdir(parents=True)
    for index in range(count):
        _on_canvas(face, index).save(folder / f"photo_{index:05d}.jpg", quality=80 + index % 15)
    return folder


def tiny_photos(folder: Path, count: int) -> Path:
    """``count`` 80x60 JPEGs in folders of 1,000: one in 20 the astronaut, the rest noise (no face)."""
    rng = np.random.default_rng(0)
    variants = []
    for index in range(20):
        noise = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize((80, 60), Image.BICUBIC)
        if index == 0:
            noise.paste(Image.open(ASTRONAUT).resize((44, 44)), (18, 8))
        path = folder / f"v{index}.jpg"
        folder.mkdir(parents=True, exist_ok=True)
        noise.save(path, quality=85)
        variants.append(path.read_bytes())
        path.unlink()
    for index in range(count):
        sub = folder / f"{index // 1000:04d}"
        if index % 1000 == 0:
            sub.mkdir()
        (sub / f"p{index:06d}.jpg").write_bytes(variants[index % 20])
    return folder


def run(command: list[str]) -> dict:
    """Run ``command`` to the end: wall seconds, the largest process's peak RSS and the peak summed RSS (MB)."""
    start = time.perf_counter()
    process = psutil.Popen(command, stdout=subprocess.DEVNULL)
    peak_sum, peak_one = 0, 0
    while process.poll() is None:
        try:
            tree = [process, *process.children(recursive=True)]
            sizes = [p.memory_info().rss for p in tree]
        except psutil.Error:
            continue
        peak_sum, peak_one = max(peak_sum, sum(sizes)), max(peak_one, *sizes)
        time.sleep(0.2)
    wall = time.perf_counter() - start
    if process.returncode not in (0, 3):
        raise RuntimeError(f"{command} exited with {process.returncode}")
    return {
        "seconds": round(wall, 2),
        "peak_rss_mb_largest_process": round(peak_one / 2**20),
        "peak_rss_mb_all_processes": round(peak_sum / 2**20),
    }


def throughput(folder: Path, count: int, work: Path) -> dict:
    results = {}
    for workers in (1, 2):
        measured = run(
            [
                *PREDICT,
                str(folder),
                "--format",
                "jsonl",
                "--workers",
                str(workers),
                "--out",
                str(work / f"w{workers}.jsonl"),
            ]
        )
        results[f"workers_{workers}"] = {**measured, "photos_per_s": round(count / measured["seconds"], 1)}
    faces = sum(len(json.loads(line)["faces"]) == 1 for line in (work / "w1.jsonl").open())
    same = (work / "w1.jsonl").read_bytes() == (work / "w2.jsonl").read_bytes()
    return {**results, "photos_with_one_face": faces, "workers_2_output_equals_workers_1": same}


def ray_throughput(folder: Path, count: int, work: Path) -> dict:
    import ray

    from faceage_lib.batch.ray_job import predict_on_ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    results = {}
    try:
        for actors in (1, 2):
            start = time.perf_counter()
            predict_on_ray([str(folder)], str(work / f"ray{actors}"), actors)
            seconds = time.perf_counter() - start
            results[f"actors_{actors}"] = {"seconds": round(seconds, 2), "photos_per_s": round(count / seconds, 1)}
    finally:
        ray.shutdown()
    return results


def memory(counts: list[int], work: Path) -> dict:
    results = {}
    for count in counts:
        folder = tiny_photos(work / f"tiny{count}", count)
        measured = run(
            [*PREDICT, str(folder), "--format", "jsonl", "--workers", "2", "--out", str(work / f"tiny{count}.jsonl")]
        )
        lines = sum(1 for _ in (work / f"tiny{count}.jsonl").open())
        results[str(count)] = {**measured, "photos_per_s": round(count / measured["seconds"], 1), "records": lines}
    return results


def kill_and_resume(folder: Path, count: int, work: Path) -> dict:
    """Kill -9 a 2-worker jsonl run once half the photos are written, resume it, compare with a clean run."""
    out = work / "killed.jsonl"
    command = [*PREDICT, str(folder), "--format", "jsonl", "--workers", "2", "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, start_new_session=True)
    while process.poll() is None and (not out.exists() or out.read_bytes().count(b"\n") < count // 2):
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    written = out.read_bytes()
    subprocess.run([*command, "--resume"], check=True, stdout=subprocess.DEVNULL)
    paths = [json.loads(line)["path"] for line in out.open()]
    return {
        "photos_when_killed": written.count(b"\n"),
        "partial_last_line": not written.endswith(b"\n"),
        "records_after_resume": len(paths),
        "distinct_paths": len(set(paths)),
        "every_photo_exactly_once": sorted(paths) == sorted(str(p) for p in folder.iterdir()),
        "equals_an_uninterrupted_run": out.read_bytes() == (work / "w2.jsonl").read_bytes(),
    }


def markdown(results: dict) -> str:
    t, r, m, k = results["throughput"], results["ray"], results["memory"], results["kill_and_resume"]
    lines = [
        f"# Corpus scale ({results['photos']} photos of 640x480, one face each; {results['machine']})",
        "",
        "| engine | photos/s | seconds | peak RSS, largest process (MB) |",
        "|---|---:|---:|---:|",
    ]
    for workers in (1, 2):
        row = t[f"workers_{workers}"]
        lines.append(
            f"| local, {workers} worker{'s' * (workers > 1)} | {row['photos_per_s']} | {row['seconds']} | "
            f"{row['peak_rss_mb_largest_process']} |"
        )
    for actors in (1, 2):
        row = r[f"actors_{actors}"]
        lines.append(f"| Ray, {actors} actor{'s' * (actors > 1)} | {row['photos_per_s']} | {row['seconds']} | |")
    lines += [
        "",
        (
            f"2 workers / 1 worker: {results['ratios']['workers_2_over_1']}x; Ray 2 actors / local 2 workers: "
            f"{results['ratios']['ray_2_over_local_2']}x; 2-worker output identical to 1-worker: "
            f"{t['workers_2_output_equals_workers_1']}"
        ),
        "",
        "| tiny photos | seconds | photos/s | peak RSS, largest process (MB) | peak RSS, all processes (MB) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for count, row in m.items():
        lines.append(
            f"| {int(count):,} | {row['seconds']} | {row['photos_per_s']} | "
            f"{row['peak_rss_mb_largest_process']} | {row['peak_rss_mb_all_processes']} |"
        )
    lines += [
        "",
        (
            f"Killed (SIGKILL) after {k['photos_when_killed']} photos, resumed: {k['records_after_resume']} "
            f"records, every photo exactly once: {k['every_photo_exactly_once']}, identical to an "
            f"uninterrupted run: {k['equals_an_uninterrupted_run']}."
        ),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=600, help="640x480 photos for the throughput runs")
    parser.add_argument("--memory", default="10000,100000", help="photo counts for the memory runs")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"), help="folder for scale.json/.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="faceage-scale-") as temporary:
        work = Path(temporary)
        folder = face_photos(work / "photos", args.photos)
        load_before = os.getloadavg()[0]
        results = {"photos": args.photos, "throughput": throughput(folder, args.photos, work)}
        results["kill_and_resume"] = kill_and_resume(folder, args.photos, work)
        results["ray"] = ray_throughput(folder, args.photos, work)
        results["memory"] = memory([int(n) for n in args.memory.split(",")], work)
    t, r = results["throughput"], results["ray"]
    results["ratios"] = {
        "workers_2_over_1": round(t["workers_2"]["photos_per_s"] / t["workers_1"]["photos_per_s"], 2),
        "ray_2_over_local_2": round(r["actors_2"]["photos_per_s"] / t["workers_2"]["photos_per_s"], 2),
    }
    results["machine"] = (
        f"{os.cpu_count()} CPU cores, load average {load_before:.1f} at the start and "
        f"{os.getloadavg()[0]:.1f} at the end (other work on the same cores)"
    )
    out = Path(args.out)
    (out / "scale.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "scale.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
