"""Corpus scale: photos per second of ``faceage predict`` with 1 and 2 workers and on Ray with 1 and 2 actors,
peak memory at 10k and 100k photos, and a run killed halfway and resumed.

    python benchmarks/scale.py [--photos 2000] [--memory 10000,100000 | --memory keep] [--out benchmarks/results]

Photos: the astronaut (``assets/astronaut.jpg``, NASA, public domain) at 60% of the height of a 640x480
canvas of blurred noise, a different place, background and JPEG quality per photo (one face each). Memory:
tiny 80x60 photos (one in 20 a downscaled astronaut, the rest noise: mostly no face, so 100k fit in minutes),
in folders of 1,000, written as JSON Lines by 2 workers; peak memory is the largest resident set of any
process of the run, and the sum over the run's processes sampled every 0.2 s. ``--memory keep`` runs no
memory runs and keeps the figures of ``--out``'s ``scale.json`` (the 100k run takes about 25 minutes).

Every local run is a fresh ``faceage predict`` process (its start-up counted). The Ray runs join a local Ray
instance started before their clock starts (as a cluster would be running; the seconds ``ray.init`` took
are reported), so they count the actors' start and model load but not Ray's; one more run is a fresh
``faceage predict --engine ray --workers 2`` command that starts its own Ray instance (everything counted).
Beside each run: the share of the machine's CPU that other processes used meanwhile. Writes
``scale.json`` and ``scale.md`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
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


class Usage:
    """CPU seconds used by this process and its descendants (Ray's processes too), and by the whole machine."""

    def __init__(self):
        self.me = psutil.Process()
        self.cpu: dict[int, float] = {}
        self.sample()
        self.start_ours, self.start_all, self.start = sum(self.cpu.values()), _busy(), time.perf_counter()
        self.running = True
        threading.Thread(target=self._watch, daemon=True).start()  # a process's time is seen before it exits

    def _watch(self) -> None:
        while self.running:
            self.sample()
            time.sleep(0.2)

    def sample(self) -> None:
        try:
            tree = [self.me, *self.me.children(recursive=True)]
        except psutil.Error:
            return
        for process in tree:
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            self.cpu[process.pid] = max(self.cpu.get(process.pid, 0.0), times.user + times.system)

    def others_share(self) -> float:
        """The share of all cores' time since the start that other processes used."""
        self.running = False
        self.sample()
        wall = time.perf_counter() - self.start
        others = (_busy() - self.start_all) - (sum(self.cpu.values()) - self.start_ours)
        return round(max(0.0, others) / (wall * (os.cpu_count() or 1)), 2)


def _busy() -> float:
    times = psutil.cpu_times()
    return times.user + times.nice + times.system + getattr(times, "irq", 0) + getattr(times, "softirq", 0)


def run(command: list[str]) -> dict:
    """Run ``command`` to the end: wall seconds, the largest process's peak RSS and the peak summed RSS (MB),
    and the share of the CPU that other processes used meanwhile."""
    usage = Usage()
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
        "cpu_share_of_other_processes": usage.others_share(),
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

    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    results: dict = {"ray_init_seconds": round(time.perf_counter() - start, 2)}
    try:
        for actors in (1, 2):
            usage = Usage()
            start = time.perf_counter()
            predict_on_ray([str(folder)], str(work / f"ray{actors}"), actors, report=lambda _: None)
            seconds = time.perf_counter() - start
            results[f"actors_{actors}"] = {
                "seconds": round(seconds, 2),
                "photos_per_s": round(count / seconds, 1),
                "cpu_share_of_other_processes": usage.others_share(),
            }
    finally:
        ray.shutdown()
    out = work / "ray_command"
    measured = run(
        [*PREDICT, str(folder), "--engine", "ray", "--format", "parquet", "--workers", "2", "--out", str(out)]
    )
    results["command_actors_2"] = {**measured, "photos_per_s": round(count / measured["seconds"], 1)}
    rows = _parquet_rows(work / "ray2")
    results["actors_2_rows_equal_workers_1"] = rows == _jsonl_rows(work / "w1.jsonl")
    return results


def _parquet_rows(folder: Path) -> list[tuple]:
    """(path, face, age) of each row of a Ray run's output, sorted."""
    import pyarrow.parquet as pq

    table = pq.read_table(folder, columns=["path", "face", "age"])
    return sorted((p, f or 0, round(a, 4) if a is not None else None) for p, f, a in zip(*table.to_pydict().values()))


def _jsonl_rows(path: Path) -> list[tuple]:
    rows = []
    for line in path.open():
        record = json.loads(line)
        faces = record["faces"] or [None]
        rows += [(record["path"], f["face"] if f else 0, round(f["age"], 4) if f else None) for f in faces]
    return sorted(rows)


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
        "| engine | photos/s | seconds | peak RSS, largest process (MB) | CPU used by other processes |",
        "|---|---:|---:|---:|---:|",
    ]
    rows = [(f"local, {n} worker{'s' * (n > 1)}", t[f"workers_{n}"]) for n in (1, 2)]
    rows += [(f"Ray, {n} actor{'s' * (n > 1)} (Ray running)", r[f"actors_{n}"]) for n in (1, 2)]
    rows.append(("Ray, 2 actors, a fresh command (starting Ray)", r["command_actors_2"]))
    for name, row in rows:
        lines.append(
            f"| {name} | {row['photos_per_s']} | {row['seconds']} | {row.get('peak_rss_mb_largest_process', '')} | "
            f"{row['cpu_share_of_other_processes']:.0%} |"
        )
    ratios = results["ratios"]
    lines += [
        "",
        (
            f"2 workers / 1 worker: {ratios['workers_2_over_1']}x; Ray 2 actors / local 2 workers: "
            f"{ratios['ray_2_over_local_2']}x (Ray running; {ratios['ray_command_2_over_local_2']}x for a fresh "
            f"command that starts Ray; `ray.init` took {r['ray_init_seconds']} s). 2-worker output identical to "
            f"1-worker: {t['workers_2_output_equals_workers_1']}; Ray's rows (2 actors) the same as 1 worker's: "
            f"{r['actors_2_rows_equal_workers_1']}."
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
    if results.get("memory_from"):
        lines += ["", f"The memory runs are those of {results['memory_from']} (not rerun: `--memory keep`)."]
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
    parser.add_argument(
        "--photos",
        type=int,
        default=2000,
        help="640x480 photos for the throughput runs (fewer: the start of each run, its processes and the "
        "model loads, weighs more than the throughput of a corpus)",
    )
    parser.add_argument(
        "--memory",
        default="10000,100000",
        help="photo counts for the memory runs, or 'keep': none, and the figures of --out's scale.json kept",
    )
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"), help="folder for scale.json/.md")
    args = parser.parse_args()
    out = Path(args.out)
    earlier = json.loads((out / "scale.json").read_text()) if args.memory == "keep" else {}
    if args.memory == "keep" and "memory" not in earlier:
        parser.error(f"--memory keep: {out / 'scale.json'} has no memory figures")
    with tempfile.TemporaryDirectory(prefix="faceage-scale-") as temporary:
        work = Path(temporary)
        folder = face_photos(work / "photos", args.photos)
        load_before = os.getloadavg()[0]
        results = {"photos": args.photos, "throughput": throughput(folder, args.photos, work)}
        results["kill_and_resume"] = kill_and_resume(folder, args.photos, work)
        results["ray"] = ray_throughput(folder, args.photos, work)
        if args.memory == "keep":
            results["memory"] = earlier["memory"]
            results["memory_from"] = earlier.get("memory_from") or f"an earlier run ({earlier['machine']})"
        else:
            results["memory"] = memory([int(n) for n in args.memory.split(",")], work)
    t, r = results["throughput"], results["ray"]
    runs = [t["workers_1"], t["workers_2"], r["actors_1"], r["actors_2"], r["command_actors_2"]]
    others = sum(run["cpu_share_of_other_processes"] * run["seconds"] for run in runs) / sum(
        run["seconds"] for run in runs
    )
    local_2 = t["workers_2"]["photos_per_s"]
    results["ratios"] = {
        "workers_2_over_1": round(local_2 / t["workers_1"]["photos_per_s"], 2),
        "ray_2_over_local_2": round(r["actors_2"]["photos_per_s"] / local_2, 2),
        "ray_command_2_over_local_2": round(r["command_actors_2"]["photos_per_s"] / local_2, 2),
    }
    results["machine"] = (
        f"{os.cpu_count()} CPU cores, load average {load_before:.1f} at the start and "
        f"{os.getloadavg()[0]:.1f} at the end; other processes used {others:.0%} of the CPU during the "
        "throughput runs"
    )
    (out / "scale.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "scale.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
