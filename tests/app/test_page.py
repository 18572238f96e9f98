"""The app: its prediction function, drawing, feedback, and the running server via gradio_client."""

from __future__ import annotations

import base64
import io
import json
import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceage_lib.app import page, texts, uploads
from faceage_lib.app.analysis import analyze_photo, save_feedback, table_rows
from faceage_lib.app.page import build_app
from faceage_lib.config import assets_dir
from faceage_lib.feedback import FeedbackStore
from faceage_lib.inference.order import reading_order
from faceage_lib.inference.predictor import FaceResult
from faceage_lib.render.drawing import PALETTE, draw_faces, fit_for_display

skimage_data = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def photo_files(tmp_path_factory, astronaut) -> dict:
    folder = tmp_path_factory.mktemp("photos")
    files = {"astronaut": folder / "astronaut.png", "cat": folder / "cat.png", "text": folder / "notes.jpg"}
    Image.fromarray(astronaut).save(files["astronaut"])
    Image.fromarray(skimage_data.chelsea()).save(files["cat"])  # no face
    files["text"].write_bytes(b"this is not a photo\n" * 10)
    return files


def jpeg_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


# --------------------------------------------------------------------------- the prediction function


def test_astronaut_one_face_boxed(predictor, astronaut):
    annotated, rows, message = analyze_photo(predictor, astronaut)
    assert annotated.shape == astronaut.shape and annotated.dtype == np.uint8
    assert len(rows) == 1 and "1 face" in message
    number, age, age_range, gender, probability, under_18 = rows[0]
    assert number == 1 and gender in ("female", "male") and probability.endswith("%") and under_18.endswith("%")
    low, high = (int(v) for v in age_range.split("-"))
    assert low <= int(age) <= high
    face = predictor.predict(astronaut)[0]
    x1, y1, x2, y2 = face.box
    # the box is drawn in the first palette colour along the face's left edge ...
    edge = annotated[y1 + 5 : y2 - 5, x1].astype(int)
    assert np.abs(edge - PALETTE[0]).max() <= 2
    # ... and the picture away from the box and label is untouched
    np.testing.assert_array_equal(annotated[400:, :100], astronaut[400:, :100])


@pytest.mark.parametrize("source", ["array", "jpeg bytes", "file", "pil"])
def test_every_input_kind(predictor, astronaut, photo_files, source):
    image = {
        "array": astronaut,
        "jpeg bytes": jpeg_bytes(astronaut),
        "file": str(photo_files["astronaut"]),
        "pil": Image.fromarray(astronaut),
    }[source]
    annotated, rows, _ = analyze_photo(predictor, image)
    assert annotated is not None and len(rows) == 1


@pytest.mark.parametrize("blank", [np.full((300, 400, 3), 255, np.uint8), np.zeros((64, 64), np.uint8)])
def test_no_face(predictor, blank):
    annotated, rows, message = analyze_photo(predictor, blank)
    assert rows == []
    assert "No face found" in message
    assert annotated is not None  # the photo itself, to show what was looked at


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"this is not a photo", "not an image"),
        (b"", "not an image"),
        ("truncated", "truncated"),
    ],
)
def test_bad_files_give_a_message_not_an_exception(predictor, astronaut, data, reason):
    if data == "truncated":
        whole = jpeg_bytes(astronaut)
        data = whole[: len(whole) // 2]
    annotated, rows, message = analyze_photo(predictor, data)
    assert annotated is None and rows == []
    assert "could not be read as a photo" in message and reason in message
    assert "Traceback" not in message


def test_nothing_given(predictor):
    annotated, rows, message = analyze_photo(predictor, None)
    assert annotated is None and rows == [] and "photo" in message


def test_missing_and_bad_files_by_path(predictor, photo_files, tmp_path):
    _, rows, message = analyze_photo(predictor, str(photo_files["text"]))
    assert rows == [] and "not an image" in message
    _, rows, message = analyze_photo(predictor, str(tmp_path / "missing.jpg"))
    assert rows == [] and "no such file" in message


def fake_face(box, age=34.2, low=29, high=41, gender="female", prob=0.87) -> FaceResult:
    return FaceResult(
        box=box,
        score=0.9,
        age=age,
        age_low=low,
        age_high=high,
        gender=gender,
        gender_prob=prob,
        p_female=prob if gender == "female" else 1 - prob,
        p_under_18=0.05,
    )


def test_table_rows():
    faces = [fake_face((0, 0, 10, 10)), fake_face((20, 0, 30, 10), 61.6, 50, 70, "male", 0.55)]
    assert table_rows(faces) == [[1, "34", "29-41", "female", "87%", "5%"], [2, "62", "50-70", "male", "55%", "5%"]]


def test_an_uncertain_gender_reads_well():
    unsure = FaceResult(
        box=(0, 0, 10, 10),
        score=0.9,
        age=4.2,
        age_low=2,
        age_high=7,
        gender="uncertain",
        gender_prob=0.58,
        p_female=0.58,
        p_under_18=0.05,
    )
    assert unsure.label == "F? 4 (2-7)"
    assert table_rows([unsure]) == [[1, "4", "2-7", "uncertain", "58% F", "5%"]]  # the probability says of what
    assert fake_face((0, 0, 10, 10), gender="male", prob=0.9).label == "M 34 (29-41)"


def test_faces_are_numbered_in_reading_order():
    top_left, bottom_left = fake_face((0, 0, 100, 100)), fake_face((0, 200, 100, 300))
    top_right, bottom_right = fake_face((205, 10, 305, 110)), fake_face((200, 195, 300, 295))
    faces = [top_left, bottom_left, bottom_right, top_right]  # left to right, as the detector may give them
    assert [faces[i] for i in reading_order([f.box for f in faces])] == [top_left, top_right, bottom_left, bottom_right]
    assert reading_order([]) == []


def test_group_example_is_numbered_row_by_row(predictor):
    """The 2x2 group photo: the Predictor gives faces 1-2 on the top row, 3-4 below, crops kept
    with their faces; the app's table numbers them in that order."""
    analysis = predictor.analyze(str(assets_dir() / "group.jpg"))
    assert len(analysis.faces) == 4
    tops = [face.box[1] for face in analysis.faces]
    lefts = [face.box[0] for face in analysis.faces]
    assert max(tops[:2]) < min(tops[2:]) and lefts[0] < lefts[1] and lefts[2] < lefts[3]
    assert predictor.predict(str(assets_dir() / "group.jpg")) == analysis.faces
    _, rows, _ = analyze_photo(predictor, str(assets_dir() / "group.jpg"))
    assert [row[0] for row in rows] == [1, 2, 3, 4] and rows[0][1] == f"{analysis.faces[0].age:.0f}"


def measured_json(path, groups: dict, model_sha256: str = "abc") -> Path:
    path.write_text(json.dumps({"model_sha256": model_sha256, "by_age_group": groups}))
    return path


def test_intro_figures_come_from_the_measured_file(tmp_path):
    groups = {
        "0-2": {"n": 320, "age_mae": 1.23, "gender_accuracy": 0.59},
        "30-39": {"n": 895, "age_mae": 5.7, "gender_accuracy": 0.97},
        "60-69": {"n": 259, "age_mae": 8.19, "gender_accuracy": 0.96},
        "80+": {"n": 12, "age_mae": 30.0, "gender_accuracy": 0.1},
    }  # too few images: left out
    text = texts.intro("abc", measured_json(tmp_path / "measured.json", groups))
    assert "off by 1.2 years on average for ages 0-2 and by 8.2 for ages 60-69" in text
    assert "right 59% of the time for ages 0-2 and 97% for ages 30-39" in text
    assert "80+" not in text and "children" not in text
    other_model = texts.intro("def", measured_json(tmp_path / "measured.json", groups))
    assert "off by" not in other_model  # figures of another model are not shown


@pytest.mark.parametrize(
    "content",
    [
        "not listed",
        None,
        "not json",
        json.dumps({"model_sha256": "abc"}),
        json.dumps({"model_sha256": "abc", "by_age_group": {"0-2": {"n": 40, "age_mae": "x"}}}),
    ],
)
def test_intro_says_nothing_numeric_without_the_figures(tmp_path, content):
    """No figures: the manifest lists no measured file, the file is missing, or it is not as expected."""
    path = tmp_path / "measured.json"
    if content not in (None, "not listed"):
        path.write_text(content)
    text = texts.intro("abc", None if content == "not listed" else path)
    assert "off by" not in text and "{" not in text
    assert "Its estimates are rough" in text


@pytest.mark.parametrize("size", [(90, 120), (600, 800), (4000, 6000)])
def test_labels_scale_with_the_photo(size):
    height, width = size
    image = np.full((height, width, 3), 128, np.uint8)
    box = (width // 3, height // 3, width // 2, height // 2)
    drawn = draw_faces(image, [fake_face(box)])
    shown = fit_for_display(image)
    assert drawn.shape == shown.shape
    assert 480 <= max(drawn.shape[:2]) <= 1600  # tiny photos enlarged, huge ones reduced
    # the label's background: at least 12 px tall, and about the same share of every picture
    label_rows = np.flatnonzero((np.abs(drawn.astype(int) - PALETTE[0]).max(axis=2) <= 2).sum(axis=1) > 30)
    assert len(label_rows) >= 12
    assert 0.02 < len(label_rows) / drawn.shape[0] < 0.12


def test_labels_stay_inside_the_picture():
    image = np.full((200, 200, 3), 60, np.uint8)
    faces = [fake_face((0, 0, 40, 40)), fake_face((170, 170, 200, 200), age=99.4, low=80, high=116)]
    drawn = draw_faces(image, faces)
    assert drawn.shape == (480, 480, 3)
    assert (np.abs(drawn.astype(int) - PALETTE[1]).max(axis=2) <= 2).sum() > 100  # 2nd label drawn


def test_save_feedback_needs_consent_and_a_face(tmp_path, predictor, astronaut):
    store = FeedbackStore(f"sqlite:///{tmp_path / 'fb.db'}")
    analysis = predictor.analyze(astronaut)
    faces, crops = analysis.faces, analysis.crops
    assert save_feedback(store, faces, crops, 1, 40, "not given", False)[0] is False
    assert save_feedback(store, [], crops[:0], 1, 40, "female", True)[0] is False
    assert save_feedback(store, faces, crops, 2, 40, "female", True)[0] is False  # no face 2
    stored, message = save_feedback(store, faces, crops, 1, 130, "female", True)
    assert not stored and "0 to 120" in message
    for empty in (None, "", "  "):
        stored, message = save_feedback(store, faces, crops, 1, empty, "female", True)
        assert not stored and "Enter the real age" in message
    assert store.count() == 0
    stored, message = save_feedback(store, faces, crops, 1, 40, "not given", True)
    assert stored and "Thank you" in message
    (saved,) = store.entries()
    assert saved.true_age == 40 and saved.true_gender is None
    assert saved.predicted_age == faces[0].age and saved.predicted_gender == faces[0].gender
    np.testing.assert_array_equal(store.crop(saved.id), crops[0])  # the crop, not the photo


def test_feedback_on_an_uncertain_face_stores_no_gender(tmp_path, analysed):
    """Shown "uncertain, 53% M" and sent with the gender "not given": stored as uncertain, with no
    gender label (the model's coin flip never becomes one)."""
    faces, crops = analysed
    unsure = [
        FaceResult(
            box=faces[0].box,
            score=0.9,
            age=27.0,
            age_low=22,
            age_high=33,
            gender="uncertain",
            gender_prob=0.53,
            p_female=0.47,
            p_under_18=0.05,
        )
    ]
    store = FeedbackStore(f"sqlite:///{tmp_path / 'fb.db'}")
    assert save_feedback(store, unsure, crops, 1, 27, "not given", True)[0]
    (saved,) = store.entries()
    assert (saved.predicted_gender, saved.true_gender, saved.gender) == ("uncertain", None, None)


@pytest.fixture
def analysed(predictor, astronaut):
    """(faces, crops) of the astronaut photo."""
    analysis = predictor.analyze(astronaut)
    return analysis.faces, analysis.crops


@pytest.mark.parametrize("consent", ["true", "false", "0", "no", "off", "null", "on", 1, [0], [1], {"a": 1}])
def test_save_feedback_takes_only_true_as_consent(tmp_path, analysed, consent):
    store = FeedbackStore(f"sqlite:///{tmp_path / 'fb.db'}")
    stored, message = save_feedback(store, *analysed, 1, 40, "female", consent)
    assert not stored and "tick the consent box" in message
    assert store.count() == 0


def test_save_feedback_says_why_the_database_failed(tmp_path, analysed):
    path = tmp_path / "fb.db"
    FeedbackStore(f"sqlite:///{path}")
    read_only = FeedbackStore(f"sqlite:///file:{path}?mode=ro&uri=true")
    stored, message = save_feedback(read_only, *analysed, 1, 40, "female", True)
    assert not stored and message == "Nothing was stored: the feedback database could not be written (it is read-only)."
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        stored, message = save_feedback(FeedbackStore(f"sqlite:///{path}", timeout=0.2), *analysed, 1, 40, None, True)
    finally:
        other.close()
    assert not stored and "locked by another program" in message and str(path) not in message


# --------------------------------------------------------------------------- the upload limit


def data_url(data: bytes, kind: str = "image/jpeg") -> str:
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"


def test_photo_as_data_url(predictor, astronaut):
    annotated, rows, _ = analyze_photo(predictor, data_url(jpeg_bytes(astronaut)))
    assert annotated is not None and len(rows) == 1
    _, rows, message = analyze_photo(predictor, "data:image/jpeg;base64,@@@not base64@@@")
    assert rows == [] and "not valid base64" in message


def test_over_limit_data_url_is_refused_before_decoding(predictor, monkeypatch):
    def no_decoding(*args, **kwargs):
        raise AssertionError("an over-limit data: URL was decoded")

    monkeypatch.setattr(base64, "b64decode", no_decoding)
    encoded = "A" * (uploads.MAX_FILE_SIZE // 3 * 4 + 8)  # decodes to just over 25 MB
    annotated, rows, message = analyze_photo(predictor, f"data:image/png;base64,{encoded}")
    assert annotated is None and rows == []
    assert "more than the 25 MB limit" in message


def test_over_limit_file_is_refused(predictor, astronaut, tmp_path, monkeypatch):
    path = tmp_path / "photo.jpg"
    path.write_bytes(jpeg_bytes(astronaut))
    monkeypatch.setattr(uploads, "MAX_FILE_SIZE", path.stat().st_size - 1)
    _, rows, message = analyze_photo(predictor, str(path))
    assert rows == [] and "limit" in message
    _, rows, message = analyze_photo(predictor, data_url(path.read_bytes()))
    assert rows == [] and "limit" in message


# --------------------------------------------------------------------------- the page's settings


def feedback_event(demo):
    return next(fn for fn in demo.fns.values() if fn.api_name == "feedback")


def test_app_starts_without_its_database_and_says_why(tiny_model_dir, tmp_path, monkeypatch, predictor, astronaut):
    damaged = tmp_path / "feedback.db"
    damaged.write_bytes(b"not a database" * 100)
    monkeypatch.setenv("FACEAGE_DB_URL", f"sqlite:///{damaged}")
    demo = build_app(tiny_model_dir)  # starts
    texts = [c.get("props", {}).get("value") for c in demo.config["components"]]
    notice = next(t for t in texts if isinstance(t, str) and "Feedback is switched off" in t)
    assert "not a SQLite database" in notice and str(damaged) not in notice
    send = next(c for c in demo.config["components"] if c["props"].get("elem_id") == "faceage-send")
    assert send["props"]["interactive"] is False
    message, _ = feedback_event(demo).fn({"faces": [1], "crops": None}, 1, 30, "male", True)
    assert message == notice


def test_cache_is_cleared_within_the_time_the_page_says(tiny_model_dir, tmp_path):
    demo = build_app(tiny_model_dir, FeedbackStore(f"sqlite:///{tmp_path / 'fb.db'}"))
    minutes = int(re.search(r"cleared from the server's cache within (\d+) minutes", texts.INTRO).group(1))
    frequency, age = demo.delete_cache
    assert frequency + age <= minutes * 60  # the longest an upload can stay


class FakeDemo:
    def __init__(self, share_url):
        self.share_url, self.options = share_url, None

    def launch(self, **options):
        self.options = options
        return None, "http://127.0.0.1:7860/", self.share_url if options["share"] else None


@pytest.mark.parametrize("share", [False, True])
def test_launch_shares_only_when_asked_and_says_where(monkeypatch, capsys, share):
    demo = FakeDemo("https://abc.gradio.live")
    monkeypatch.setattr(page, "build_app", lambda model_dir: demo)
    page.launch(share=share, prevent_thread_lock=True)
    assert demo.options["share"] is share  # False, not None: Gradio would share in Colab
    assert demo.options["quiet"] is True  # Gradio's own hint (share=True in launch()) is not printed
    out = capsys.readouterr().out
    assert "faceage app running at http://127.0.0.1:7860/" in out
    if share:
        assert "Public link, open to anyone who has it: https://abc.gradio.live" in out
    else:
        assert "faceage app --share" in out and "gradio.live" not in out


# --------------------------------------------------------------------------- the running app


@pytest.fixture(scope="module")
def server(app_server):
    """(url, feedback store) of the app on the tiny model (see conftest.py)."""
    return app_server


def client(url: str, who: str | None = None):
    """A client of the app; ``who``: the address it says it is (``X-Forwarded-For``, trusted where
    ``FACEAGE_TRUST_FORWARDED=1``), so that one test can be many clients within the per-client limit."""
    from gradio_client import Client

    headers = {"X-Forwarded-For": who} if who else None
    return Client(url, verbose=False, analytics_enabled=False, download_files=False, max_workers=50, headers=headers)


def test_app_analyze(server, photo_files):
    from gradio_client import handle_file

    url, _ = server
    annotated, table, message, dropdown, _ = client(url).predict(
        handle_file(str(photo_files["astronaut"])), api_name="/analyze"
    )
    assert len(table["data"]) == 1 and table["headers"][:2] == ["Face", "Age"]
    assert "1 face" in message
    assert annotated is not None and dropdown["value"] == 1


def test_app_refuses_an_over_limit_data_url(server, astronaut, monkeypatch):
    url, _ = server
    monkeypatch.setattr(uploads, "MAX_FILE_SIZE", 1000)  # the server runs in this process
    photo = {"url": data_url(jpeg_bytes(astronaut)), "meta": {"_type": "gradio.FileData"}}
    annotated, table, message, _, _ = client(url).predict(photo, api_name="/analyze")
    assert annotated is None and table["data"] == [] and "limit" in message


def test_app_bad_file_and_no_face(server, photo_files):
    from gradio_client import handle_file

    url, _ = server
    app = client(url)
    annotated, table, message, _, _ = app.predict(handle_file(str(photo_files["text"])), api_name="/analyze")
    assert annotated is None and table["data"] == [] and "could not be read" in message
    annotated, table, message, _, _ = app.predict(handle_file(str(photo_files["cat"])), api_name="/analyze")
    assert annotated is not None and table["data"] == [] and "No face found" in message


@pytest.mark.slow
def test_app_50_concurrent_predictions(server, photo_files, monkeypatch):
    """Requests of 10 clients overlap in the queue; each gets the answer for its own photo."""
    from gradio_client import handle_file

    url, _ = server
    monkeypatch.setenv("FACEAGE_TRUST_FORWARDED", "1")
    apps = [client(url, f"10.0.0.{i}") for i in range(10)]
    names = ["astronaut" if i % 5 else "cat" for i in range(50)]
    jobs = [
        apps[i % 10].submit(handle_file(str(photo_files[name])), api_name="/analyze") for i, name in enumerate(names)
    ]
    results = [job.result(timeout=120) for job in jobs]
    for name, (annotated, table, message, _, _) in zip(names, results):
        assert annotated is not None
        if name == "astronaut":
            assert len(table["data"]) == 1 and "1 face" in message
        else:
            assert table["data"] == [] and "No face" in message


@pytest.mark.slow
def test_app_concurrent_identical_photos_get_whole_images(server, photo_files, monkeypatch):
    """50 requests with the same photo: each annotated image is downloaded whole, while other
    requests are still writing theirs (it used to be one file, rewritten under the download)."""
    import httpx
    from gradio_client import handle_file

    url, _ = server
    monkeypatch.setenv("FACEAGE_TRUST_FORWARDED", "1")
    apps = [client(url, f"10.0.1.{i}") for i in range(10)]

    def analyze_and_download(i) -> bytes:
        photo = handle_file(str(photo_files["astronaut"]))
        annotated, table, _, _, _ = apps[i % 10].predict(photo, api_name="/analyze")
        assert len(table["data"]) == 1
        response = httpx.get(annotated["url"], timeout=60)  # raises on a body shorter than announced
        response.raise_for_status()
        return response.content

    with ThreadPoolExecutor(max_workers=50) as pool:
        images = list(pool.map(analyze_and_download, range(50)))
    for data in images:
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # a truncated JPEG raises here
            assert image.size == (512, 512)
    assert len(set(images)) == 1  # the same photo, the same picture


@pytest.mark.slow
def test_app_100_concurrent_feedback_submissions(server, photo_files, monkeypatch):
    """20 clients send 5 entries each, all at once (within the per-client limit)."""
    from gradio_client import handle_file

    url, store = server
    monkeypatch.setenv("FACEAGE_TRUST_FORWARDED", "1")
    apps = [client(url, f"10.0.2.{i}") for i in range(20)]
    before = {e.id for e in store.entries()}
    for app in apps:
        app.predict(handle_file(str(photo_files["astronaut"])), api_name="/analyze")  # the session's faces
    jobs = [
        apps[age % 20].submit(1, age, "female" if age % 2 else "not given", True, api_name="/feedback")
        for age in range(100)
    ]
    messages = [job.result(timeout=120)[0] for job in jobs]
    assert all(m.startswith("Thank you") for m in messages), messages
    new = [e for e in store.entries() if e.id not in before]
    assert len(new) == 100 and len({e.id for e in new}) == 100
    assert sorted(e.true_age for e in new) == list(range(100))  # each stored once
    assert {e.true_gender for e in new if e.true_age % 2} == {"female"}
    assert {e.true_gender for e in new if not e.true_age % 2} == {None}


def test_app_feedback_needs_consent_and_a_photo_in_this_session(server, photo_files):
    from gradio_client import handle_file

    url, store = server
    count = store.count()
    fresh = client(url)  # a session that analysed nothing
    message, _ = fresh.predict(1, 30, "male", True, api_name="/feedback")
    assert "Analyse a photo" in message
    fresh.predict(handle_file(str(photo_files["astronaut"])), api_name="/analyze")
    message, _ = fresh.predict(1, 30, "male", False, api_name="/feedback")
    assert "consent" in message
    for fake in ("false", "0", [0]):  # not a checkbox's value: not consent
        message, _ = fresh.predict(1, 30, "male", fake, api_name="/feedback")
        assert "consent" in message
    message, _ = fresh.predict(1, 3.5, "male", True, api_name="/feedback")
    assert "whole number" in message
    assert store.count() == count
    message, consent_after = fresh.predict(1, 30, "male", True, api_name="/feedback")
    assert message.startswith("Thank you") and consent_after is False  # consent is per entry
    assert store.count() == count + 1


def test_app_crowd_returns_a_csv_with_one_row_per_face(server, photo_files, tmp_path):
    """Two photos with a face, one inside a .zip with a text file: two face rows and one note."""
    import zipfile

    import httpx
    import pandas as pd
    from gradio_client import handle_file

    url, _ = server
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(photo_files["astronaut"], "inside/astronaut.png")
        zipped.writestr("readme.txt", "not a photo")
    table, csv, chart, message, gallery = client(url).predict(
        [handle_file(str(photo_files["astronaut"])), handle_file(str(archive))], api_name="/crowd"
    )
    response = httpx.get(csv["url"], timeout=60)
    response.raise_for_status()
    rows = pd.read_csv(io.StringIO(response.text))
    faces = rows[rows["Face"].notna()]
    assert list(faces["File"]) == ["astronaut.png", "photos.zip/inside/astronaut.png"]
    assert list(rows.loc[rows["Face"].isna(), "Note"]) == ["skipped: not an image file (.txt)"]
    assert len(table["data"]) == len(rows) and "2 faces in 2 photos" in message
    assert sum(row[-1] for row in chart["data"]) == 2  # the chart counts the same faces
    captions = [item["caption"] for item in gallery]  # a crop per face, named as its table row
    assert [c.split(": ")[0] for c in captions] == ["astronaut.png, face 1", "photos.zip/inside/astronaut.png, face 1"]
