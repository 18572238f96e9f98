"""Crowd mode: many photos and .zip archives, read in memory within caps, one row per face."""

from __future__ import annotations

import io
import zipfile

import pandas as pd
import pytest
from PIL import Image

from faceage_lib.app import crowd
from faceage_lib.app.crowd import analyze_crowd, read_photos

MB = 2**20


def jpeg(image) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture
def make_zip(tmp_path):
    def make(members: dict[str, bytes], name: str = "photos.zip"):
        path = tmp_path / name
        with zipfile.ZipFile(path, "w") as archive:
            for member, data in members.items():
                archive.writestr(member, data)
        return path

    return make


def face_rows(result) -> list[list]:
    return [row for row in result.rows if row[1] is not None]


def test_photos_and_a_zip_give_one_row_per_face_and_a_note_per_bad_file(predictor, astronaut, make_zip, tmp_path):
    single = tmp_path / "astronaut.jpg"
    single.write_bytes(jpeg(astronaut))
    archive = make_zip(
        {
            "a/astronaut.jpg": jpeg(astronaut),
            "notes.txt": b"hello",
            "broken.jpg": b"not a jpeg",
            "blank.png": jpeg(astronaut[:60, :60] * 0),
            "__MACOSX/a/._astronaut.jpg": b"fork",
            "../../evil.jpg": jpeg(astronaut),
        }
    )
    seen = []
    result = analyze_crowd(
        predictor, [single, archive], max_file_size=25 * MB, progress=lambda number, name: seen.append((number, name))
    )
    notes = {row[0]: row[-1] for row in result.rows if row[-1]}
    assert seen[:2] == [(1, "astronaut.jpg"), (2, "photos.zip/a/astronaut.jpg")] and len(seen) == 6  # per file
    assert [caption.split(": ")[0] for _, caption in result.crops] == [  # a crop per face, named as its row
        f"{row[0]}, face {row[1]}" for row in face_rows(result)
    ]
    assert all(crop.shape == (crowd.GALLERY_SIDE, crowd.GALLERY_SIDE, 3) for crop, _ in result.crops)
    assert [row[0] for row in face_rows(result)] == [
        "astronaut.jpg",
        "photos.zip/a/astronaut.jpg",
        "photos.zip/../../evil.jpg",
    ]
    assert notes["photos.zip/notes.txt"] == "skipped: not an image file (.txt)"
    assert notes["photos.zip/broken.jpg"].startswith("not read:")
    assert notes["photos.zip/blank.png"] == "no face found"
    assert not any("__MACOSX" in row[0] for row in result.rows)
    assert result.photos == 4 and result.problems == 2 and len(result.ages) == 3
    assert not (tmp_path / "evil.jpg").exists() and not (tmp_path.parent / "evil.jpg").exists()  # nothing extracted


def test_caps_on_files_and_bytes(predictor, astronaut, make_zip, monkeypatch):
    monkeypatch.setattr(crowd, "MAX_FILES", 3)
    archive = make_zip({f"{i}.jpg": b"x" * 10 for i in range(10)})
    photos = list(read_photos([archive], max_file_size=MB))
    assert [p.name for p in photos if not p.problem] == [f"photos.zip/{i}.jpg" for i in range(3)]
    assert photos[-1].problem == "skipped: at most 3 files are read at once" and len(photos) == 4

    monkeypatch.setattr(crowd, "MAX_TOTAL_BYTES", 25)
    archive = make_zip({f"{i}.jpg": b"x" * 10 for i in range(3)}, "small.zip")
    photos = list(read_photos([archive], max_file_size=MB))
    assert [p.problem for p in photos] == ["", "", "skipped: more than 0 MB in all"]
    (too_big,) = read_photos([make_zip({"big.jpg": b"x" * 100}, "big.zip")], max_file_size=50)
    assert too_big.problem.startswith("skipped:") and too_big.data is None


def test_a_member_larger_than_it_says_is_not_read(make_zip):
    path = make_zip({"a.jpg": b"x" * 1000})
    data = bytearray(path.read_bytes())
    header = data.rfind(b"PK\x01\x02")  # the central directory's record: claim 10 bytes, not 1000
    data[header + 24 : header + 28] = (10).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    (photo,) = read_photos([path], max_file_size=MB)
    assert photo.data is None and "damaged" in photo.problem


def test_a_bad_archive_and_a_missing_file_get_a_row(predictor, tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    result = analyze_crowd(predictor, [bad, tmp_path / "gone.jpg"], max_file_size=MB)
    assert [row[-1].split(":")[0] for row in result.rows] == ["not read", "not read"]
    assert result.problems == 2


def test_chart_counts_faces_by_age_group_and_gender():
    result = crowd.CrowdResult(ages=[(1.0, "uncertain"), (34.0, "female"), (36.0, "female"), (70.0, "male")])
    chart = crowd.age_chart(result).set_index(["age group", "gender"])["faces"]
    assert chart[("0-2", "uncertain")] == 1 and chart[("30-39", "female")] == 2 and chart[("70-79", "male")] == 1
    assert chart.sum() == 4 and len(chart) == 30  # every group and gender, zeros included
    assert crowd.age_chart(crowd.CrowdResult())["faces"].sum() == 0


def test_csv_is_the_table_with_formulas_made_inert():
    result = crowd.CrowdResult(rows=[["=HYPERLINK(1).jpg", 1, "1 2 3 4", "34", "29-41", "female", "87%", "1%", ""]])
    text = crowd.to_csv(result.table())
    table = pd.read_csv(io.StringIO(text))
    assert list(table.columns) == crowd.HEADERS
    assert table.loc[0, "File"] == "'=HYPERLINK(1).jpg" and table.loc[0, "Range"] == "29-41"
