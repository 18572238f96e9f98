"""The Gradio app: a photo in, every face boxed and labelled with age and gender, a table out;
a live webcam view (:mod:`.live`, :mod:`.tracking`) and many photos at once (:mod:`.crowd`).

The work is done by plain functions that tests call directly (:func:`analyze_photo`,
:func:`draw_faces`, :func:`save_feedback`, :func:`~.live.annotate_frame`,
:func:`~.crowd.analyze_crowd`); :func:`build_app` only wires them to the page.

>>> demo = build_app("models/")      # or build_app() for the shipped / $FACEAGE_MODEL_DIR model
>>> demo.launch(**LAUNCH_OPTIONS)    # or launch(): the same, with host, port and share

It runs offline (no analytics, system fonts only); only ``launch(share=True)`` gives a public link
(also in Colab). Feedback (a face crop with the true age) is stored only when the user ticks the
consent box, in :class:`faceage_lib.app.feedback.FeedbackStore`; if that database cannot be
opened, the app still analyses photos and the page says why feedback is off.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import os
import sys
import uuid
from pathlib import Path
from typing import Any, Callable, Sequence

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
from gradio.data_classes import FileData, ImageData  # noqa: E402
from PIL import Image  # noqa: E402

from ..config import AGE_GROUP_LABELS, INTERVAL_COVERAGE, assets_dir  # noqa: E402
from ..errors import ImageError, StoreError  # noqa: E402
from ..inference.predictor import Analysis, FaceResult, Predictor  # noqa: E402
from . import crowd  # noqa: E402
from .drawing import draw_faces, fit_for_display  # noqa: E402
from .faces import face_cells, reading_order  # noqa: E402
from .feedback import FeedbackStore, is_consent  # noqa: E402
from .live import annotate_frame, jpeg_data_url  # noqa: E402

log = logging.getLogger(__name__)

#: Example photos shown under the input (see assets/README.md for their sources).
ASSETS_DIR = assets_dir()
EXAMPLES = (("astronaut.jpg", "an astronaut"), ("group.jpg", "a group of 4"),
            ("cameraman.jpg", "black and white"), ("chelsea_cat.jpg", "a cat (no face)"))
#: Events run at once per event type. Inference is CPU-bound and the model serialises its
#: calls, so 2 lets one request decode / draw while another runs the model.
CONCURRENCY_LIMIT = 2
#: Requests waiting at most; more get "queue full" instead of an ever longer wait.
MAX_QUEUE = 128
#: The largest photo accepted, however it arrives (upload, path or data: URL), in bytes.
MAX_FILE_SIZE = 25 * 1024 * 1024
#: Gradio's cache (uploads, annotated photos): checked every CACHE_CHECK_S, files older than
#: CACHE_MAX_AGE_S deleted, so none is kept longer than their sum (an hour).
CACHE_CHECK_S, CACHE_MAX_AGE_S = 600, 3000
TABLE_HEADERS = ["Face", "Age", "Range", "Gender", "Prob."]  # short: the table fits a phone screen
GENDER_CHOICES = ["not given", "female", "male"]
#: The shipped model's measured accuracy, written by benchmarks/accuracy.py. A checkout or a
#: Space has it; an installed package may not, and then the intro gives no figures.
ACCURACY_FILE = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "accuracy.json"
#: Age groups measured on fewer test images than this are left out of the intro's figures.
MIN_GROUP_IMAGES = 30
#: The live view: a frame every STREAM_EVERY seconds, a stream stops after LIVE_TIME_LIMIT
#: seconds (press record again to go on), and LIVE_STREAMS frames are processed at once.
STREAM_EVERY, LIVE_TIME_LIMIT, LIVE_STREAMS = 0.1, 120, 2

TITLE = "Age and gender from a face photo"
INTRO = (
    f"# {TITLE}\n"
    "Upload a photo, take one with the webcam or paste one from the clipboard: each face found "
    "gets a box with the estimated gender (F/M), age and likely age range "
    f"(it holds the true age about {INTERVAL_COVERAGE:.0%} of the time). The other tabs follow "
    "faces in a live webcam stream, or analyse many photos at once.\n\n"
    "**Limits:** the model was trained on UTKFace, a dataset for non-commercial research only, so "
    "this app is for non-commercial use. Its estimates are rough, and worse for small, blurred or "
    "turned faces.{figures} Gender is female or male, or \"uncertain\" (F? or M?) when the model "
    "is not sure. Photos are not kept: uploads are cleared from the server's cache within "
    f"{(CACHE_CHECK_S + CACHE_MAX_AGE_S) // 60} minutes."
)
FIGURES = (" On UTKFace's test photos the age is off by {best_mae:.1f} years on average for ages {best} and by "
           "{worst_mae:.1f} for ages {worst}; the gender is right {low_acc:.0%} of the time for ages {low} and "
           "{high_acc:.0%} for ages {high}.")
FEEDBACK_INTRO = (
    "Know the real age of a face in this photo? Sending it helps improve the model. Only the "
    "small crop of that face is stored (not the photo), with the estimate, the age you give, the "
    "gender if you give it, and the date. Tick the box to agree to that, for each entry."
)
FEEDBACK_OFF = "**Feedback is switched off on this server:** its database could not be opened: {reason}."
LIVE_INTRO = ("Allow the camera, then press the record button: each face is followed from frame to frame "
              "and its estimate settles over a few frames. Nothing is stored.")
CROWD_INTRO = (f"Choose several photos, or a .zip archive of photos (up to {crowd.MAX_FILES} files, "
               f"{crowd.MAX_TOTAL_BYTES // 2**20} MB in all): one row per face, a CSV to download, and "
               "the ages by gender.")
CSS = """
.gradio-container {max-width: 1180px !important; margin: 0 auto !important;}
#faceage-message p {margin: 0.2em 0;}
#faceage-intro p:last-child {font-size: 0.9em; opacity: 0.85;}
#faceage-table, #faceage-crowd-table {min-width: 0; overflow-x: auto;}
#faceage-table span, #faceage-table td, #faceage-table th, #faceage-crowd-table span, #faceage-crowd-table td,
#faceage-crowd-table th {font-family: var(--font) !important;}
#faceage-photo .source-selection {height: auto !important; gap: 6px; flex-wrap: wrap; padding: 4px 0;}
#faceage-photo .source-selection button {display: inline-flex !important; align-items: center; gap: 4px;
  width: auto !important; height: auto !important; padding: 2px 6px !important;}
#faceage-photo .source-selection button svg {width: 18px; height: 18px; flex: none;}
#faceage-photo .source-selection button::after {font-size: 0.85em; white-space: nowrap;}
#faceage-photo .source-selection button[aria-label="Upload file"]::after {content: "Upload";}
#faceage-photo .source-selection button[aria-label="Capture from camera"]::after {content: "Webcam";}
#faceage-photo .source-selection button[aria-label="Paste from clipboard"]::after {content: "Paste";}
"""
#: Raw <head> additions: Gradio rewrites the selectors in ``css`` to sit inside the app's
#: content, which the page margins are not.
HEAD = """<style>
@media (max-width: 640px) {  /* phones: narrow page margins */
  .gradio-container > .main {padding-left: 8px !important; padding-right: 8px !important;}
}
</style>"""
#: System fonts only: nothing is fetched, and the text is set in one font that has every glyph
#: (Gradio's default theme font covers only a few of the title's letters, the rest fall back).
SYSTEM_FONTS = ("Segoe UI", "Roboto", "Helvetica Neue", "Arial", "Liberation Sans", "DejaVu Sans", "sans-serif")
MONO_FONTS = ("Consolas", "Menlo", "Liberation Mono", "DejaVu Sans Mono", "monospace")
THEME = gr.themes.Default(font=[gr.themes.Font(name) for name in SYSTEM_FONTS],
                          font_mono=[gr.themes.Font(name) for name in MONO_FONTS])
#: What ``demo.launch`` needs besides host and port: the page's style and theme, an upload limit,
#: and no run history (it would keep users' photos in their browser's storage).
LAUNCH_OPTIONS = dict(css=CSS, head=HEAD, theme=THEME, max_file_size=MAX_FILE_SIZE, run_history=False)
GENDER_COLOURS = {"female": "#e8590c", "male": "#1c7ed6", "uncertain": "#868e96"}
EMPTY_MESSAGE = "Add a photo to start: upload one, take one with the webcam, paste one, or click an example photo."
#: Runs in the browser when the photo changes: where the columns are stacked (a phone), scroll
#: the answer (message, boxed photo, table) to the top of the screen. Returns the photo unchanged.
SHOW_ANSWER_JS = """(photo) => {
  const answer = document.querySelector('#faceage-answer');
  const input = document.querySelector('#faceage-photo');
  if (photo && answer && input && answer.getBoundingClientRect().top >= input.getBoundingClientRect().bottom - 1) {
    answer.scrollIntoView({block: 'start'});
  }
  return photo;
}"""


def intro(model_sha256: str, accuracy_file: Path = ACCURACY_FILE) -> str:
    """The page's intro, with the measured figures when ``accuracy_file`` has them for this model
    (its ``model.tflite`` SHA-256)."""
    groups = measured_groups(accuracy_file, model_sha256)
    if not groups:
        return INTRO.format(figures="")
    by_mae = sorted(groups, key=lambda g: groups[g]["age_mae"])
    by_acc = sorted(groups, key=lambda g: groups[g]["gender_accuracy"])
    return INTRO.format(figures=FIGURES.format(
        best=by_mae[0], best_mae=groups[by_mae[0]]["age_mae"], worst=by_mae[-1],
        worst_mae=groups[by_mae[-1]]["age_mae"], low=by_acc[0], low_acc=groups[by_acc[0]]["gender_accuracy"],
        high=by_acc[-1], high_acc=groups[by_acc[-1]]["gender_accuracy"]))


def measured_groups(accuracy_file: Path, model_sha256: str) -> dict[str, dict[str, float]]:
    """Age group -> {age_mae, gender_accuracy} from the benchmark's JSON, groups of at least
    :data:`MIN_GROUP_IMAGES` images only; ``{}`` if the file is missing, not as expected, or
    measured another model."""
    try:
        measured = json.loads(accuracy_file.read_text())
        if measured["model_sha256"] != model_sha256:
            return {}
        groups = measured["faceage"]["by_age_group"]
        figures = {name: {key: float(group[key]) for key in ("age_mae", "gender_accuracy")}
                   for name, group in groups.items() if int(group["n"]) >= MIN_GROUP_IMAGES}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}
    if not all(math.isfinite(v) for group in figures.values() for v in group.values()):
        return {}
    return figures


# --------------------------------------------------------------------------- the prediction


def analyze_photo(predictor: Predictor, image: Any) -> tuple[np.ndarray | None, list[list], str]:
    """One photo -> (annotated photo, table rows, message). Never raises on bad input.

    ``image``: a file path, bytes, PIL image or array (anything ``Predictor.analyze`` takes).
    A file that cannot be read gives ``(None, [], message)``; a photo without a face gives the
    photo itself, no rows and a message saying so.
    """
    _, annotated, rows, message = _analyze(predictor, image)
    return annotated, rows, message


def _analyze(predictor: Predictor, image: Any) -> tuple[Analysis | None, np.ndarray | None, list[list], str]:
    if image is None:
        return None, None, [], EMPTY_MESSAGE
    try:
        analysis = in_reading_order(predictor.analyze(_read_upload(image)))
    except ImageError as error:
        return None, None, [], f"**This file could not be read as a photo.** {_sentence(str(error))}"
    faces = analysis.faces
    if not faces:
        message = ("**No face found.** Try a photo where the face is larger, lit from the front and "
                   "looking at the camera.")
        return analysis, fit_for_display(analysis.image), [], message
    annotated = draw_faces(analysis.image, faces)
    message = f"**Found {len(faces)} face{'s' if len(faces) != 1 else ''}.**"
    if len(faces) > 1:
        message += " Numbered row by row, left to right, as in the table."
    return analysis, annotated, table_rows(faces), message


def in_reading_order(analysis: Analysis) -> Analysis:
    """The analysis with its faces (and their crops) in reading order, as they are numbered."""
    order = reading_order(analysis.faces)
    return Analysis(analysis.image, [analysis.faces[i] for i in order], analysis.crops[order])


def table_rows(faces: Sequence[FaceResult]) -> list[list]:
    """One row per face: number, age, likely range, gender, probability of that gender."""
    return [[i, *face_cells(face)] for i, face in enumerate(faces, 1)]


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


# --------------------------------------------------------------------------- feedback


def save_feedback(store: FeedbackStore, faces: Sequence[FaceResult], crops: np.ndarray, face_number: Any,
                  true_age: Any, true_gender: str | None, consent: bool) -> tuple[bool, str]:
    """Store one consented entry for face ``face_number`` (1-based); returns (stored, message)."""
    if not faces:
        return False, "Analyse a photo with a face first."
    if not is_consent(consent):  # only True: the strings "false", "0", ... are not consent
        return False, "Nothing was stored: tick the consent box to send this face's crop and age."
    try:
        number = int(face_number)
    except (TypeError, ValueError):
        number = 0
    if not 1 <= number <= len(faces):
        return False, f"Choose a face: 1 to {len(faces)}."
    if true_age is None or (isinstance(true_age, str) and not true_age.strip()):
        return False, "Enter the real age (0 to 120 years)."
    face = faces[number - 1]
    gender = None if true_gender in (None, "", GENDER_CHOICES[0]) else true_gender
    try:
        entry = store.add(np.asarray(crops[number - 1]), face.age, face.leaning, face.gender_prob,
                          true_age, consent=consent, true_gender=gender)
    except ValueError as error:
        return False, f"Nothing was stored: {error}."
    except StoreError as error:
        log.error("storing feedback failed: %s", error)
        return False, f"Nothing was stored: the feedback database could not be written ({error.reason})."
    return True, f"Thank you: feedback #{entry} for face {number} was stored."


# --------------------------------------------------------------------------- the page


class PhotoInput(gr.Image):
    """``gr.Image`` that hands over the uploaded file untouched.

    Decoding is left to :func:`faceage_lib.inference.images.load_image`, which handles EXIF rotation,
    every colour mode and oversized files, and turns a broken or non-image file into a clear
    message instead of an error inside Gradio.
    """

    is_template = True  # the page uses gr.Image's front end
    # No __init__ of its own: Gradio reads the component's settings from gr.Image's signature.

    def preprocess(self, payload) -> str | None:
        """The uploaded file's path, or a ``data:`` URL as it came (decoded by :func:`_read_upload`)."""
        if payload is None:
            return None
        if payload.path:
            return payload.path
        if payload.url and payload.url.startswith("data:"):
            return payload.url
        return None


class AnnotatedImage(gr.Image):
    """``gr.Image`` output that writes each annotated photo to a file of its own.

    ``gr.Image`` names its cache file by the picture's content, so two requests with the same
    photo rewrite one file while it is being sent and a download comes back truncated. Here
    every answer gets a new file (see :func:`_write_to_cache`).
    """

    is_template = True  # the page uses gr.Image's front end

    def postprocess(self, value: np.ndarray | None):
        if value is None:
            return None
        path = _write_to_cache(self, "faces.jpg", lambda out: Image.fromarray(value).save(out, format="JPEG",
                                                                                            quality=90))
        return ImageData(path=str(path), orig_name=path.name)


class LiveImage(gr.Image):
    """``gr.Image`` output for the live view: each frame is sent inline as a JPEG ``data:`` URL,
    so that a stream leaves no file per frame on the server."""

    is_template = True  # the page uses gr.Image's front end

    def postprocess(self, value: np.ndarray | None):
        return None if value is None else ImageData(url=jpeg_data_url(value), orig_name="live.jpg")


class CsvFile(gr.File):
    """``gr.File`` output that takes CSV text and serves it as a file of its own (``faces.csv``)."""

    is_template = True  # the page uses gr.File's front end

    def postprocess(self, value: str | None):
        if value is None:
            return None
        path = _write_to_cache(self, "faces.csv", lambda out: out.write_text(value, encoding="utf-8"))
        return FileData(path=str(path), orig_name=path.name, size=path.stat().st_size)


def _write_to_cache(component: gr.components.Component, name: str, write: Callable[[Path], Any]) -> Path:
    """A new file ``name`` in a folder of its own in Gradio's cache, written in full under a
    temporary name and then renamed, and deleted with the rest of the cache (``delete_cache``)."""
    folder = Path(component.GRADIO_CACHE) / uuid.uuid4().hex
    folder.mkdir(parents=True)
    path, partial = folder / name, folder / f".{name}.partial"
    write(partial)
    os.replace(partial, path)
    component.temp_files.add(str(path))
    return path


def build_app(model_dir: str | os.PathLike | None = None, store: FeedbackStore | None = None) -> gr.Blocks:
    """The app's page, its events and queue; ``launch()`` it or use :func:`launch`.

    The model is loaded here, once (``ModelFileError`` if it is missing); ``store`` defaults
    to ``FeedbackStore()`` (``$FACEAGE_DB_URL`` or the SQLite file under the data folder).
    If that database cannot be opened, the app starts with feedback switched off and says why.
    Events have the API names ``/analyze``, ``/feedback``, ``/live`` and ``/crowd``.
    """
    predictor = Predictor(model_dir)
    store, store_off = (store, "") if store is not None else open_store()
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(CACHE_CHECK_S, CACHE_MAX_AGE_S)) as demo:
        gr.Markdown(intro(predictor.estimator.manifest["files"]["model.tflite"]["sha256"]),
                    elem_id="faceage-intro")
        with gr.Tabs():
            with gr.Tab("Photo", id="photo"):
                _photo_tab(predictor, store, store_off)
            with gr.Tab("Live webcam", id="live"):
                _live_tab(predictor)
            with gr.Tab("Many photos", id="crowd"):
                _crowd_tab(predictor)
    demo.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=MAX_QUEUE)
    return demo


def _photo_tab(predictor: Predictor, store: FeedbackStore | None, store_off: str) -> None:
    """One photo: the input and its examples, the answer (message, boxed photo, table), feedback."""
    def on_photo(image):
        if image is None:  # cleared: by the user (see on_clear) or after an unreadable file
            return (gr.skip(),) * 7
        try:
            analysis, annotated, rows, message = _analyze(predictor, image)
        except Exception:  # a bug must not show the user a traceback
            log.exception("analysing a photo failed")
            analysis, annotated, rows = None, None, []
            message = "**Something went wrong while analysing this photo.** Please try another one."
        faces = analysis.faces if analysis else []
        state = {"faces": faces, "crops": analysis.crops} if faces else None
        choices = [(f"Face {i}: {face.label}", i) for i, face in enumerate(faces, 1)]
        return (annotated, _table(rows), message, state,
                gr.Dropdown(choices=choices, value=1 if faces else None, interactive=len(faces) > 1),
                "", analysis is None)

    def on_clear():
        return None, _table([]), EMPTY_MESSAGE, None, gr.Dropdown(choices=[], value=None, interactive=False), ""

    def on_feedback(state, face_number, true_age, true_gender, consent):
        if store is None:
            return store_off, gr.skip()
        state = state or {}
        stored, message = save_feedback(store, state.get("faces", []), state.get("crops"), face_number,
                                        true_age, true_gender, consent)
        # consent is given per entry: untick after storing
        return message, (False if stored else gr.skip())

    with gr.Row(equal_height=False):
        with gr.Column(min_width=300):
            photo = PhotoInput(label="Photo", type="filepath", sources=["upload", "webcam", "clipboard"],
                               height=420, buttons=["fullscreen"], elem_id="faceage-photo")
            examples = [[str(ASSETS_DIR / name)] for name, _ in EXAMPLES if (ASSETS_DIR / name).is_file()]
            if examples:  # no example_labels: with them Gradio shows text buttons instead of thumbnails
                labels = [label for name, label in EXAMPLES if (ASSETS_DIR / name).is_file()]
                gr.Examples(examples=examples, inputs=[photo], label=f"Examples, click one: {', '.join(labels)}",
                            elem_id="faceage-examples")
        with gr.Column(min_width=300, elem_id="faceage-answer"):
            message = gr.Markdown(EMPTY_MESSAGE, elem_id="faceage-message")
            annotated = AnnotatedImage(label="Faces found", type="numpy", format="jpeg", interactive=False,
                                       height=420, buttons=["download", "fullscreen"], elem_id="faceage-result")
            table = gr.Dataframe(value=_table([]), headers=TABLE_HEADERS, label="Faces", interactive=False,
                                 max_height=320, column_widths=["15%", "15%", "24%", "26%", "20%"],
                                 elem_id="faceage-table")
    state, unreadable = gr.State(None), gr.State(False)
    with gr.Accordion("Help improve the model (optional)", open=False, elem_id="faceage-feedback"):
        gr.Markdown(FEEDBACK_INTRO if store is not None else store_off, elem_id="faceage-feedback-intro")
        with gr.Row():
            face_number = gr.Dropdown(label="Face", choices=[], value=None, interactive=False, min_width=180,
                                      elem_id="faceage-face",
                                      allow_custom_value=True)  # checked by save_feedback
            # a Textbox, not a Number: an empty Number reads as 0, a valid age, so an
            # untouched field would store "0 years"
            true_age = gr.Textbox(label="Real age (years, 0-120)", placeholder="e.g. 34", max_lines=1,
                                  min_width=140, elem_id="faceage-true-age")
            true_gender = gr.Radio(GENDER_CHOICES, value=GENDER_CHOICES[0], label="Real gender (optional)",
                                   min_width=240, elem_id="faceage-true-gender")
        consent = gr.Checkbox(label="I agree that this face crop, its estimate and the age (and gender) I "
                              "give are stored and used to train and evaluate the model.", value=False,
                              elem_id="faceage-consent")
        send = gr.Button("Send feedback", variant="primary", interactive=store is not None,
                         elem_id="faceage-send")
        feedback_message = gr.Markdown("", elem_id="faceage-feedback-message")

    answer = [annotated, table, message, state, face_number, feedback_message]
    analysed = photo.change(on_photo, inputs=[photo], outputs=[*answer, unreadable], api_name="analyze",
                            show_progress="minimal", js=SHOW_ANSWER_JS)
    # a file that is not a photo: clear the input (it would show a broken image), keep the message
    analysed.then(lambda bad: None if bad else gr.skip(), inputs=[unreadable], outputs=[photo],
                  api_visibility="private", queue=False)
    photo.clear(on_clear, outputs=answer, api_visibility="private", queue=False)
    send.click(on_feedback, inputs=[state, face_number, true_age, true_gender, consent],
               outputs=[feedback_message, consent], api_name="feedback", concurrency_limit=4)


def _live_tab(predictor: Predictor) -> None:
    """The webcam stream, annotated frame by frame; one tracker per browser session."""
    def on_frame(frame, tracker):
        try:
            return annotate_frame(predictor, frame, tracker)
        except Exception:  # a bug must not stop the stream with a traceback
            log.exception("annotating a webcam frame failed")
            return frame, tracker

    gr.Markdown(LIVE_INTRO)
    with gr.Row(equal_height=False):
        camera = gr.Image(label="Webcam", sources=["webcam"], streaming=True, type="numpy", min_width=300,
                          webcam_options=gr.WebcamOptions(constraints={"video": {"width": 640, "height": 480}}),
                          elem_id="faceage-camera")
        live = LiveImage(label="Faces, live", interactive=False, min_width=300, elem_id="faceage-live")
    tracker = gr.State(None)  # per session: users never share tracks
    camera.stream(on_frame, inputs=[camera, tracker], outputs=[live, tracker], api_name="live",
                  stream_every=STREAM_EVERY, time_limit=LIVE_TIME_LIMIT, concurrency_limit=LIVE_STREAMS,
                  show_progress="hidden")


def _crowd_tab(predictor: Predictor) -> None:
    """Many photos or .zip archives: one table of every face, its CSV, and a chart of ages by gender."""
    def on_files(paths):
        result = crowd.analyze_crowd(predictor, paths or [], MAX_FILE_SIZE)
        table = result.table()
        csv = crowd.to_csv(table) if paths else None
        return table, csv, crowd.age_chart(result), crowd.summary(result, paths or [])

    gr.Markdown(CROWD_INTRO)
    files = gr.File(label="Photos or .zip archives", file_count="multiple", file_types=["image", ".zip"],
                    type="filepath", elem_id="faceage-crowd-files")
    message = gr.Markdown(crowd.summary(crowd.CrowdResult(), []), elem_id="faceage-crowd-message")
    table = gr.Dataframe(value=crowd.CrowdResult().table(), label="Every face", interactive=False, max_height=420,
                         elem_id="faceage-crowd-table")
    with gr.Row(equal_height=False):
        chart = gr.BarPlot(crowd.age_chart(crowd.CrowdResult()), x="age group", y="faces", color="gender",
                           sort=list(AGE_GROUP_LABELS), color_map=GENDER_COLOURS, label="Ages by gender",
                           x_title="estimated age", y_title="faces", y_axis_format="d", scale=2, min_width=300,
                           elem_id="faceage-crowd-chart")
        csv = CsvFile(label="The table as CSV", interactive=False, scale=1, min_width=200, elem_id="faceage-crowd-csv")
    files.change(on_files, inputs=[files], outputs=[table, csv, chart, message], api_name="crowd",
                 show_progress="minimal")


def open_store() -> tuple[FeedbackStore | None, str]:
    """The default feedback store, or ``(None, why feedback is off)`` if it cannot be opened."""
    try:
        return FeedbackStore(), ""
    except StoreError as error:
        log.error("feedback is switched off: %s", error)
        return None, FEEDBACK_OFF.format(reason=error.reason)


def _read_upload(image: Any) -> Any:
    """The bytes of a ``data:`` URL or of a file given by path (so that messages say "the uploaded
    data", not a temp path), refused over :data:`MAX_FILE_SIZE` before anything is decoded."""
    if isinstance(image, str) and image.startswith("data:"):
        return _decode_data_url(image)
    if isinstance(image, (str, os.PathLike)) and Path(image).is_file():
        try:
            _check_size(Path(image).stat().st_size)
            return Path(image).read_bytes()
        except OSError:
            raise ImageError("the uploaded file could not be read; please upload it again") from None
    return image


def _decode_data_url(url: str) -> bytes:
    """The bytes of a base64 ``data:`` URL; its length is checked first, so a huge one costs nothing."""
    header, _, encoded = url.partition(",")
    _check_size(len(encoded) // 4 * 3)  # what the base64 text decodes to, near enough
    if not header.endswith(";base64"):
        raise ImageError("the uploaded data is not a base64 data: URL")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ImageError("the uploaded data is not valid base64") from None


def _check_size(size: int) -> None:
    if size > MAX_FILE_SIZE:
        raise ImageError(f"the photo is {size / 2**20:.0f} MB, more than the {MAX_FILE_SIZE // 2**20} MB limit")


def _table(rows: list[list]):
    import pandas as pd

    return pd.DataFrame(rows, columns=TABLE_HEADERS)


def launch(model_dir: str | os.PathLike | None = None, share: bool = False, host: str = "127.0.0.1",
           port: int = 7860, **kwargs) -> gr.Blocks:
    """Build and serve the app (blocks until stopped, except in notebooks). ``kwargs`` go to ``launch``.

    A public link is made only with ``share=True``: never on Gradio's own initiative (as it
    does in Colab). Gradio's start-up lines are replaced by faceage's (:func:`startup_lines`).
    """
    demo = build_app(model_dir)
    block = not kwargs.pop("prevent_thread_lock", False)
    options = dict(share=bool(share), server_name=host, server_port=port, quiet=True, **LAUNCH_OPTIONS)
    options.update(kwargs)
    _, local_url, share_url = demo.launch(prevent_thread_lock=True, **options)
    print("\n".join(startup_lines(local_url, share_url if share else None, share)), flush=True)
    if block and not getattr(sys, "ps1", sys.flags.interactive):  # as Gradio: no blocking in a notebook
        demo.block_thread()
    return demo


def startup_lines(local_url: str, share_url: str | None, shared: bool) -> list[str]:
    """What ``faceage app`` prints once it runs: where to open it, and how to share it."""
    lines = [f"faceage app running at {local_url} (Ctrl+C to stop)"]
    if share_url:
        lines.append(f"Public link, open to anyone who has it: {share_url}")
    elif shared:
        lines.append("The public link could not be created (see the message above); the app runs locally only.")
    else:
        lines.append("To share it with a public link, start it with `faceage app --share` "
                     "(in Python: launch(share=True)).")
    return lines
