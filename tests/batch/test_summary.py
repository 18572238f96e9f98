"""``faceage summarize``: counts, the age distribution by gender, groups, the measured error, the plot."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from faceage_lib import cli
from faceage_lib.batch.formats import CsvWriter, JsonlWriter, ParquetWriter
from faceage_lib.batch.photos import PhotoResult
from faceage_lib.batch.summary import load_results, measured_age_errors


def _face(age: float, gender: str, number: int = 1) -> dict:
    return {
        "face": number,
        "box": [1, 2, 30, 40],
        "score": 0.9,
        "age": age,
        "age_low": age - 3,
        "age_high": age + 3,
        "gender": gender,
        "gender_prob": 0.9,
        "p_female": 0.9 if gender == "female" else 0.1,
    }


RESULTS = [
    PhotoResult("site/cam1/a.jpg", [_face(25, "female"), _face(34, "male", 2)], width=64, height=48),
    PhotoResult("site/cam1/b.jpg", [_face(1.5, "uncertain")], width=64, height=48),
    PhotoResult("site/cam2/c.jpg", width=64, height=48),
    PhotoResult("site/cam2/=d.jpg", error="site/cam2/=d.jpg is not an image file"),
    PhotoResult("site/cam2/e.jpg", [_face(72, "female")], width=64, height=48),
]


@pytest.fixture(params=["jsonl", "csv", "parquet"])
def results_file(request, tmp_path):
    out = tmp_path / f"results.{request.param}"
    writer = {"jsonl": JsonlWriter, "csv": CsvWriter, "parquet": ParquetWriter}[request.param](str(out), False)
    for result in RESULTS:
        writer.write(result)
    writer.close()
    return out


def test_every_format_reads_back_the_same_rows(results_file):
    frame = load_results(results_file)
    assert list(frame["path"]) == ["site/cam1/a.jpg"] * 2 + [
        "site/cam1/b.jpg",
        "site/cam2/c.jpg",
        "site/cam2/=d.jpg",
        "site/cam2/e.jpg",
    ]
    assert [None if pd.isna(a) else a for a in frame["age"]] == [25, 34, 1.5, None, None, 72]
    assert frame["error"].notna().tolist() == [False, False, False, False, True, False]


def test_summarize_prints_counts_the_table_the_error_and_groups(results_file, tmp_path, capsys):
    plot = tmp_path / "ages.png"
    assert cli.main(["summarize", str(results_file), "--group-by", "parent", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "photos 5, faces 4, photos without a face 1, photos not read 1" in out
    assert "uncertain gender: 25.0% of faces" in out
    assert "--- cam1\nphotos 2, faces 3" in out and "--- cam2\nphotos 3, faces 1" in out
    shipped = measured_age_errors()
    assert shipped and set(shipped) >= {"0-2", "20-29", "70-79"}
    line = next(line for line in out.splitlines() if line.startswith("20-29"))
    assert line.split() == ["20-29", "1", "0", "0", "1", f"{shipped['20-29']:.1f}"]
    assert plot.stat().st_size > 1000


def test_another_model_has_no_measured_error(results_file, tiny_model_dir, capsys):
    assert measured_age_errors(tiny_model_dir) is None
    assert cli.main(["summarize", str(results_file), "--model", str(tiny_model_dir), "--group-by", "0"]) == 0
    out = capsys.readouterr().out
    assert "no measured figures found" in out and "--- site\n" in out


def test_a_json_array_reads_too(tmp_path):
    out = tmp_path / "results.json"
    out.write_text(json.dumps([result.to_dict() for result in RESULTS]))
    assert len(load_results(out)) == 6


def test_the_plot_has_a_panel_per_group_for_the_largest_groups(tmp_path, capsys):
    from PIL import Image

    from faceage_lib.batch.summary import MAX_PLOTTED_GROUPS, plot_distribution

    rows = [  # camera k has k faces: cameras 1 and 2 are the smallest
        {"path": f"site/cam{k:02d}/{n}.jpg", "face": 1, "age": 20 + k, "gender": "female", "error": None}
        for k in range(1, MAX_PLOTTED_GROUPS + 3)
        for n in range(k)
    ]
    frame = pd.DataFrame(rows)
    one, grouped = tmp_path / "one.png", tmp_path / "grouped.png"
    assert plot_distribution(frame, one) == []
    drawn = plot_distribution(frame, grouped, "parent")
    assert drawn == [f"cam{k:02d}" for k in range(3, MAX_PLOTTED_GROUPS + 3)]  # the 12 largest, in name order
    single, panels = Image.open(one).size, Image.open(grouped).size
    assert panels[0] > single[0] and panels[1] > 4 * single[1]  # 3 columns, 5 rows of panels

    out = tmp_path / "results.parquet"
    writer = ParquetWriter(str(out), False)
    for result in RESULTS:
        writer.write(result)
    writer.close()
    assert cli.main(["summarize", str(out), "--group-by", "parent", "--plot", str(grouped)]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last == f"plot written to {grouped} (all faces and 2 groups: cam1, cam2)"
