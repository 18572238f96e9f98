"""The Gradio app: a photo in, every face boxed and labelled with age and gender, a table out.

The work is done by plain functions that tests call directly (:func:`analyze_photo`,
:func:`draw_faces`, :func:`save_feedback`); :func:`build_app` only wires them to the page.

>>> demo = build_app("models/")      # or build_app() for the shipped / $FACEAGE_MODEL_DIR model
>>> demo.launch(**LAUNCH_OPTIONS)    # or launch(): the same, with host, port and share

It runs offline (no analytics, local fonts); only ``launch(share=True)`` gives a public link
(also in Colab). Feedback (a face crop with the true age) is stored only when the user ticks the
consent box, in :class:`faceage_lib.app.feedback.FeedbackStore`; if that database cannot be
opened, the app still analyses photos and the page says why feedback is off.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import sys
import uuid
from pathlib import Path
from typing import Any, Sequence

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
from gradio.data_classes import ImageData  # noqa: E402
from PIL import Image  # noqa: E402

from ..config import GENDER_THRESHOLD, GENDERS, INTERVAL_COVERAGE, assets_dir  # noqa: E402
from ..errors import ImageError, StoreError  # noqa: E402
from ..inference.predictor import Analysis, FaceResult, Predictor  # noqa: E402
from .drawing import draw_faces, fit_for_display  # noqa: E402
from .feedback import FeedbackStore, is_consent  # noqa: E402

log = logging.getLogger(__name__)

#: Example photos shown under the input (see assets/README.md for their sources).
ASSETS_DIR = assets_dir()
EXAMPLES = (("astronaut.jpg", "Astronaut"), ("group.jpg", "Group (4 faces)"),
            ("cameraman.jpg", "Black and white"), ("chelsea_cat.jpg", "A cat (no face)"))
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
TABLE_HEADERS = ["Face", "Age", "Range", "Gender", "Probability"]
GENDER_CHOICES = ["not given", "female", "male"]

TITLE = "Age and gender from a face photo"
INTRO = (
    f"# {TITLE}\n"
    "Upload a photo, take one with the webcam or paste one from the clipboard: each face found "
    "gets a box with the estimated gender (F/M), age and likely age range "
    f"(it holds the true age about {INTERVAL_COVERAGE:.0%} of the time).\n\n"
    "**Limits:** the model was trained on UTKFace, a dataset for non-commercial research only, so "
    "this app is for non-commercial use. Its estimates are rough: errors are larger for children "
    "and the elderly, and for small, blurred or turned faces; gender is predicted as female or "
    f"male only. Photos are not kept: uploads are cleared from the server's cache within "
    f"{(CACHE_CHECK_S + CACHE_MAX_AGE_S) // 60} minutes."
)
FEEDBACK_INTRO = (
    "Know the real age of a face in this photo? Sending it helps improve the model. Only the "
    "small crop of that face is stored (not the photo), with the estimate, the age you give, the "
    "gender if you give it, and the date. Tick the box to agree to that, for each entry."
)
FEEDBACK_OFF = "**Feedback is switched off on this server:** its database could not be opened: {reason}."
CSS = """
.gradio-container {max-width: 1180px !important; margin: 0 auto !important;}
#faceage-message p {margin: 0.2em 0;}
#faceage-intro p:last-child {font-size: 0.9em; opacity: 0.85;}
#faceage-table {min-width: 0; overflow-x: auto;}
#faceage-table span, #faceage-table td, #faceage-table th {font-family: var(--font) !important;}
"""
#: Raw <head> additions: Gradio rewrites the selectors in ``css`` to sit inside the app's
#: content, which the page margins are not.
HEAD = """<style>
@media (max-width: 640px) {  /* phones: narrow page margins */
  .gradio-container > .main {padding-left: 8px !important; padding-right: 8px !important;}
}
</style>"""
#: What ``demo.launch`` needs besides host and port: the page's style, an upload limit, and no run
#: history (it would keep users' photos in their browser's storage).
LAUNCH_OPTIONS = dict(css=CSS, head=HEAD, max_file_size=MAX_FILE_SIZE, run_history=False)
EMPTY_MESSAGE = "Add a photo to start: upload, webcam or paste, or click an example below."


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
        analysis = predictor.analyze(_read_upload(image))
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
        message += " Numbered left to right, as in the table."
    return analysis, annotated, table_rows(faces), message


def table_rows(faces: Sequence[FaceResult]) -> list[list]:
    """One row per face: number, age, likely range, gender, probability of that gender."""
    return [[i, f"{face.age:.0f}", f"{face.age_low:.0f}-{face.age_high:.0f}", face.gender,
             f"{face.gender_prob:.0%}"] for i, face in enumerate(faces, 1)]


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
        leaning = GENDERS[int(face.p_female >= GENDER_THRESHOLD)]  # what the model leans to, even if uncertain
        entry = store.add(np.asarray(crops[number - 1]), face.age, leaning, face.gender_prob,
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
    every answer gets a new file, written in full under a temporary name and then renamed.
    """

    is_template = True  # the page uses gr.Image's front end

    def postprocess(self, value: np.ndarray | None):
        if value is None:
            return None
        folder = Path(self.GRADIO_CACHE) / uuid.uuid4().hex
        folder.mkdir(parents=True)
        path = folder / "faces.jpg"
        partial = folder / ".faces.jpg.partial"
        Image.fromarray(value).save(partial, format="JPEG", quality=90)
        os.replace(partial, path)
        self.temp_files.add(str(path))  # deleted with the rest of the cache (delete_cache)
        return ImageData(path=str(path), orig_name=path.name)


def build_app(model_dir: str | os.PathLike | None = None, store: FeedbackStore | None = None) -> gr.Blocks:
    """The app's page, its events and queue; ``launch()`` it or use :func:`launch`.

    The model is loaded here, once (``ModelFileError`` if it is missing); ``store`` defaults
    to ``FeedbackStore()`` (``$FACEAGE_DB_URL`` or the SQLite file under the data folder).
    If that database cannot be opened, the app starts with feedback switched off and says why.
    Events have the API names ``/analyze`` and ``/feedback``.
    """
    predictor = Predictor(model_dir)
    store, store_off = (store, "") if store is not None else open_store()

    def on_photo(image):
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
                "")

    def on_feedback(state, face_number, true_age, true_gender, consent):
        if store is None:
            return store_off, gr.skip()
        state = state or {}
        stored, message = save_feedback(store, state.get("faces", []), state.get("crops"), face_number,
                                        true_age, true_gender, consent)
        # consent is given per entry: untick after storing
        return message, (False if stored else gr.skip())

    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(CACHE_CHECK_S, CACHE_MAX_AGE_S)) as demo:
        gr.Markdown(INTRO, elem_id="faceage-intro")
        with gr.Row(equal_height=False):
            with gr.Column(min_width=300):
                photo = PhotoInput(label="Photo", type="filepath", sources=["upload", "webcam", "clipboard"],
                                   height=420, buttons=["fullscreen"], elem_id="faceage-photo")
                examples = [[str(ASSETS_DIR / name)] for name, _ in EXAMPLES if (ASSETS_DIR / name).is_file()]
                if examples:
                    gr.Examples(examples=examples, inputs=[photo], label="Examples: click one",
                                example_labels=[label for name, label in EXAMPLES
                                                if (ASSETS_DIR / name).is_file()])
            with gr.Column(min_width=300):
                annotated = AnnotatedImage(label="Faces found", type="numpy", format="jpeg", interactive=False,
                                           height=420, buttons=["download", "fullscreen"], elem_id="faceage-result")
                message = gr.Markdown(EMPTY_MESSAGE, elem_id="faceage-message")
                table = gr.Dataframe(value=_table([]), headers=TABLE_HEADERS, label="Faces", interactive=False,
                                     max_height=320, column_widths=["14%", "14%", "24%", "22%", "26%"],
                                     elem_id="faceage-table")
        state = gr.State(None)
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

        photo.change(on_photo, inputs=[photo],
                     outputs=[annotated, table, message, state, face_number, feedback_message],
                     api_name="analyze", show_progress="minimal")
        send.click(on_feedback, inputs=[state, face_number, true_age, true_gender, consent],
                   outputs=[feedback_message, consent], api_name="feedback", concurrency_limit=4)

    demo.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=MAX_QUEUE)
    return demo


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
