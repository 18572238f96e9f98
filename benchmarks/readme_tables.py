"""Write the README's reliability and load tables from the results files, so that no figure is typed by hand.

    python benchmarks/readme_tables.py          # after reliability.py and load.py; rewrites README.md

Each table sits between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->`` in the README; a test checks
that the README holds what this script makes of the committed results.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
README = ROOT / "README.md"


def reliability_table(rows: list[dict]) -> str:
    """One row per input: the answer (short), time, CPU, peak memory, a normal photo's latency meanwhile."""
    lines = ["| input | answer | time (s) | CPU (s) | peak memory (MB) | normal photo meanwhile (s) |",
             "|---|---|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['input']} | {_short(row['answer'])} | {row['seconds']:.2f} | {row['cpu_s']:.2f} "
                     f"| {row['peak_rss_mb']:,} | {row['normal_photo_s']:.2f} |")
    return "\n".join(lines)


def load_table(result: dict) -> str:
    """One row per scenario: sent, answered, refused or failed, lost, and for abuse a normal photo's latency."""
    lines = ["| scenario | sent | answered | refused or failed | lost | p95 (s) | normal photo meanwhile (s) "
             "| peak memory (MB) |", "|---|---:|---:|---|---:|---:|---:|---:|"]
    for row in result["scenarios"]:
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(row["errors"].items())) or "0"
        p95 = "" if row["latency_s"] is None else f"{row['latency_s']['p95']:.2f}"
        normal = row.get("normal_photo")
        meanwhile = "" if normal is None else f"{normal['seconds']:.2f}" + ("" if normal["answered"] else " (refused)")
        peak = "" if normal is None or row.get("peak_rss_mb") is None else f"{row['peak_rss_mb']:,}"
        lines.append(f"| {row['name']} | {row['sent']} | {row['answered']} | {kinds} | {row['lost']} | {p95} "
                     f"| {meanwhile} | {peak} |")
    notes = [f"{row['name']}: {row['note']}." for row in result["scenarios"] if row.get("note")]
    return "\n".join(lines + ([""] + notes if notes else []))


def _short(answer: str) -> str:
    """The answer without the file's name, and for faces only their number."""
    if answer.startswith("ImageError: "):
        return re.sub(r"^ImageError: \S+ ", "`ImageError`: ", answer).replace("|", "\\|")
    return answer.split("; ")[0]


def tables() -> dict[str, str]:
    """Table name -> its Markdown, from the results files."""
    return {"reliability": reliability_table(json.loads((RESULTS / "reliability.json").read_text())),
            "load": load_table(json.loads((RESULTS / "load.json").read_text()))}


def with_tables(readme: str, made: dict[str, str]) -> str:
    """``readme`` with each marked table replaced by ``made``'s."""
    for name, table in made.items():
        pattern = re.compile(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)", re.S)
        if not pattern.search(readme):
            raise SystemExit(f"README.md has no <!-- {name}:begin --> ... <!-- {name}:end --> block")
        readme = pattern.sub(lambda m: m[1] + table + "\n" + m[2], readme)
    return readme


def main() -> None:
    README.write_text(with_tables(README.read_text(), tables()))


if __name__ == "__main__":
    main()
