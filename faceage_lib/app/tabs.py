"""The page's four tabs, each wiring the plain functions to its components and events."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import gradio as gr
import pandas as pd

from ..config import AGE_GROUP_LABELS, VIDEO_EXTENSIONS, assets_dir
from ..errors import VideoError
from ..feedback import FeedbackStore
from ..inference.predictor import Predictor
from ..video import MAX_VIDEO_SECONDS, analyze_video
from . import crowd
from .admission import lane
from .analysis import GENDER_CHOICES, MAX_FEEDBACK_FACES, TABLE_HEADERS, analyze, face_table, save_feedback
from .components import AnnotatedImage, CsvFile, LiveImage, PhotoInput
from .live import annotate_frame
from .style import GENDER_COLOURS, SHOW_ANSWER_JS, SHOW_CROWD_ANSWER_JS, SHOW_FEEDBACK_MESSAGE_JS
from .texts import CROWD_INTRO, EMPTY_MESSAGE, FEEDBACK_INTRO, LIVE_INTRO, VIDEO_INTRO
from .uploads import MAX_FILE_SIZE, STATE_TTL_S

log = logging.getLogger(__name__)

#: Example photos shown under the input (see assets/README.md for their sources).
ASSETS_DIR = assets_dir()
EXAMPLES = (
    ("astronaut.jpg", "an astronaut"),
    ("group.jpg", "a group of 4"),
    ("cameraman.jpg", "black and white"),
    ("chelsea_cat.jpg", "a cat (no face)"),
)
#: The live view: a frame every STREAM_EVERY seconds (33 a second asked of a webcam's 30: at 0.04 the
#: page could never show more than 25; benchmarks/live_browser.py); a
#: stream stops after LIVE_TIME_LIMIT seconds of the server's work (a minute or more of video; press
#: record again to go on). Gradio waits for a stream's next frame as long as that limit, so it is also
#: how soon a quiet stream frees its slot.
STREAM_EVERY, LIVE_TIME_LIMIT = 0.03, 15
#: The camera's frame size: the browser sends the next frame only once the last one came back, and
#: at 480x360 the round trip (encode, send, detect, draw, send back) is about half that of 640x480
#: (benchmarks/live_browser.py, one run each on these 2 busy cores: 12.3 against 5.5 frames a second).
LIVE_SIZE = {"width": 480, "height": 360}


def photo_tab(predictor: Predictor, store: FeedbackStore | None, store_off: str) -> None:
    """One photo: the input and its examples, the answer (message, boxed photo, table), feedback."""

    def on_photo(image):
        if image is None:  # cleared: by the user (see on_clear) or after an unreadable file
            return (gr.skip(),) * 7
        try:
            analysis, annotated, rows, message = analyze(predictor, image)
        except Exception:  # a bug must not show the user a traceback
            log.exception("analysing a photo failed")
            analysis, annotated, rows = None, None, []
            message = "**Something went wrong while analysing this photo.** Please try another one."
        faces = analysis.faces[:MAX_FEEDBACK_FACES] if analysis else []  # the session keeps only these
        state = {"faces": faces, "crops": analysis.crops[:MAX_FEEDBACK_FACES].copy()} if faces else None
        choices = [(f"Face {i}: {face.label}", i) for i, face in enumerate(faces, 1)]
        return (
            annotated,
            face_table(rows),
            message,
            state,
            gr.Dropdown(choices=choices, value=1 if faces else None, interactive=len(faces) > 1),
            "",
            analysis is None,
        )

    def on_clear():
        return None, face_table([]), EMPTY_MESSAGE, None, gr.Dropdown(choices=[], value=None, interactive=False), ""

    def on_feedback(state, face_number, true_age, true_gender, consent):
        if store is None:
            return store_off, gr.skip()
        state = state or {}
        stored, message = save_feedback(
            store, state.get("faces", []), state.get("crops"), face_number, true_age, true_gender, consent
        )
        # consent is given per entry: untick after storing
        return message, (False if stored else gr.skip())

    with gr.Row(equal_height=False):
        with gr.Column(min_width=300):
            photo = PhotoInput(
                label="Photo",
                type="filepath",
                sources=["upload", "webcam", "clipboard"],
                height=420,
                buttons=["fullscreen"],
                elem_id="faceage-photo",
            )
            examples = [[str(ASSETS_DIR / name)] for name, _ in EXAMPLES if (ASSETS_DIR / name).is_file()]
            if examples:  # no example_labels: with them Gradio shows text buttons instead of thumbnails
                labels = [label for name, label in EXAMPLES if (ASSETS_DIR / name).is_file()]
                gr.Examples(
                    examples=examples,
                    inputs=[photo],
                    label=f"Examples, click one: {', '.join(labels)}",
                    elem_id="faceage-examples",
                )
        with gr.Column(min_width=300, elem_id="faceage-answer"):
            message = gr.Markdown(EMPTY_MESSAGE, elem_id="faceage-message")
            annotated = AnnotatedImage(
                label="Faces found",
                type="numpy",
                format="jpeg",
                interactive=False,
                height=420,
                buttons=["download", "fullscreen"],
                elem_id="faceage-result",
            )
            table = gr.Dataframe(
                value=face_table([]),
                headers=TABLE_HEADERS,
                label="Faces",
                interactive=False,
                max_height=320,
                column_widths=["15%", "15%", "24%", "26%", "20%"],
                elem_id="faceage-table",
            )
    state, unreadable = gr.State(None, time_to_live=STATE_TTL_S), gr.State(False)
    with gr.Accordion("Help improve the model (optional)", open=False, elem_id="faceage-feedback"):
        gr.Markdown(FEEDBACK_INTRO if store is not None else store_off, elem_id="faceage-feedback-intro")
        with gr.Row():
            face_number = gr.Dropdown(
                label="Face",
                choices=[],
                value=None,
                interactive=False,
                min_width=180,
                elem_id="faceage-face",
                allow_custom_value=True,
            )  # checked by save_feedback
            # a Textbox, not a Number: an empty Number reads as 0, a valid age, so an
            # untouched field would store "0 years"
            true_age = gr.Textbox(
                label="Real age (years, 0-120)",
                placeholder="e.g. 34",
                max_lines=1,
                min_width=140,
                elem_id="faceage-true-age",
            )
            true_gender = gr.Radio(
                GENDER_CHOICES,
                value=GENDER_CHOICES[0],
                label="Real gender (optional)",
                min_width=240,
                elem_id="faceage-true-gender",
            )
        consent = gr.Checkbox(
            label="I agree that this face crop, its estimate and the age (and gender) I "
            "give are stored and used to train and evaluate the model.",
            value=False,
            elem_id="faceage-consent",
        )
        send = gr.Button("Send feedback", variant="primary", interactive=store is not None, elem_id="faceage-send")
        feedback_message = gr.Markdown("", elem_id="faceage-feedback-message")

    answer = [annotated, table, message, state, face_number, feedback_message]
    analysed = photo.change(
        on_photo,
        inputs=[photo],
        outputs=[*answer, unreadable],
        api_name="analyze",
        show_progress="minimal",
        js=SHOW_ANSWER_JS,
        **lane("photo"),
    )
    # a file that is not a photo: clear the input (it would show a broken image), keep the message
    analysed.then(
        lambda bad: None if bad else gr.skip(),
        inputs=[unreadable],
        outputs=[photo],
        api_visibility="private",
        queue=False,
    )
    photo.clear(on_clear, outputs=answer, api_visibility="private", queue=False)
    sent = send.click(
        on_feedback,
        inputs=[state, face_number, true_age, true_gender, consent],
        outputs=[feedback_message, consent],
        api_name="feedback",
        **lane("feedback"),
    )
    sent.then(None, js=SHOW_FEEDBACK_MESSAGE_JS, api_visibility="private", queue=False)


def live_tab(predictor: Predictor) -> None:
    """The webcam stream, annotated frame by frame; one tracker per browser session."""

    def on_frame(frame, tracker):
        try:
            return annotate_frame(predictor, frame, tracker)
        except Exception:  # a bug must not stop the stream with a traceback
            log.exception("annotating a webcam frame failed")
            return None, tracker

    gr.Markdown(LIVE_INTRO)
    with gr.Row(equal_height=False, elem_id="faceage-live-row"):
        camera = PhotoInput(
            label="Webcam",
            sources=["webcam"],
            streaming=True,
            type="filepath",
            min_width=300,
            webcam_options=gr.WebcamOptions(constraints={"video": LIVE_SIZE}),
            elem_id="faceage-camera",
        )  # frames read as photos are: same limits
        live = LiveImage(label="Faces, live", interactive=False, min_width=300, elem_id="faceage-live")
    tracker = gr.State(None, time_to_live=STATE_TTL_S)  # per session: users never share tracks
    camera.stream(
        on_frame,
        inputs=[camera, tracker],
        outputs=[live, tracker],
        api_name="live",
        stream_every=STREAM_EVERY,
        time_limit=LIVE_TIME_LIMIT,
        show_progress="hidden",
        **lane("live"),
    )


def crowd_tab(predictor: Predictor) -> None:
    """Many photos or .zip archives: one table of every face, its CSV, and a chart of ages by gender."""

    def on_files(paths, progress=gr.Progress()):  # noqa: B008  (Gradio finds the progress bar by this default)
        def step(number: int, name: str) -> None:
            progress((number - 1, None), desc=f"Photo {number}: {name}", unit="photos")

        result = crowd.analyze_crowd(predictor, paths or [], MAX_FILE_SIZE, step)
        csv = crowd.to_csv(result.table()) if paths else None
        return result.shown_table(), csv, crowd.age_chart(result), crowd.summary(result, paths or []), result.crops

    gr.Markdown(CROWD_INTRO)
    files = gr.File(
        label="Photos or .zip archives",
        file_count="multiple",
        file_types=["image", ".zip"],
        type="filepath",
        elem_id="faceage-crowd-files",
    )
    message = gr.Markdown(crowd.summary(crowd.CrowdResult(), []), elem_id="faceage-crowd-message")
    table = gr.Dataframe(
        value=crowd.CrowdResult().shown_table(),
        label="Every face",
        interactive=False,
        max_height=420,
        wrap=True,
        elem_id="faceage-crowd-table",
        column_widths=["28%", "14%", "22%", "24%", "12%"],
    )
    gallery = gr.Gallery(
        label="Faces (each captioned with its file and face number, as in the table)",
        columns=6,
        height="auto",
        object_fit="contain",
        interactive=False,
        elem_id="faceage-crowd-gallery",
    )
    with gr.Row(equal_height=False, elem_id="faceage-crowd-row"):
        chart = gr.BarPlot(
            crowd.age_chart(crowd.CrowdResult()),
            x="age group",
            y="faces",
            color="gender",
            sort=list(AGE_GROUP_LABELS),
            color_map=GENDER_COLOURS,
            label="Ages by gender",
            x_title="estimated age",
            y_title="faces",
            y_axis_format="d",
            x_label_angle=-45,
            scale=2,
            min_width=300,
            elem_id="faceage-crowd-chart",
        )
        csv = CsvFile(label="The table as CSV", interactive=False, scale=1, min_width=200, elem_id="faceage-crowd-csv")
    answered = files.change(
        on_files,
        inputs=[files],
        outputs=[table, csv, chart, message, gallery],
        api_name="crowd",
        show_progress="full",
        **lane("crowd"),
    )
    answered.then(None, js=SHOW_CROWD_ANSWER_JS, api_visibility="private", queue=False)


VIDEO_HEADERS = ["Person", "Age (range)", "Gender (prob.)", "Seen (s)"]


def video_tab(predictor: Predictor) -> None:
    """A video file in: the clip back annotated, one row per person and its CSV."""

    def on_video(path, progress=gr.Progress()):  # noqa: B008  (as above)
        if not path:
            return None, people_table([]), None, ""
        annotated = Path(tempfile.mkdtemp(dir=ensure_cache(player))) / "faces.webm"
        try:
            result = analyze_video(predictor, path, annotated, progress=lambda done: progress(done, desc="Analysing"))
        except VideoError as error:
            return None, people_table([]), None, f"**This video could not be used.** {error}."
        except Exception:  # a bug must not show the user a traceback
            log.exception("analysing a video failed")
            return None, people_table([]), None, "**Something went wrong while analysing this video.**"
        people = result.people
        message = f"**{len(people)} {'person' if len(people) == 1 else 'people'} in {result.seconds:.1f} s.**"
        csv = pd.DataFrame(people).to_csv(index=False) if people else None
        return str(result.annotated), people_table(people), csv, message

    gr.Markdown(VIDEO_INTRO.format(seconds=MAX_VIDEO_SECONDS, mb=MAX_FILE_SIZE // 2**20))
    with gr.Row(equal_height=False):
        upload = gr.File(
            label="Video",
            file_types=list(VIDEO_EXTENSIONS),
            type="filepath",
            min_width=300,
            elem_id="faceage-video-file",
        )
        with gr.Column(min_width=300):
            message = gr.Markdown("", elem_id="faceage-video-message")
            player = gr.Video(label="Faces followed", interactive=False, elem_id="faceage-video-result")
    table = gr.Dataframe(
        value=people_table([]),
        headers=VIDEO_HEADERS,
        label="One row per person",
        interactive=False,
        wrap=True,
        elem_id="faceage-video-table",
    )
    csv = CsvFile(label="The people as CSV", interactive=False, elem_id="faceage-video-csv")
    upload.change(
        on_video,
        inputs=[upload],
        outputs=[player, table, csv, message],
        api_name="video",
        show_progress="full",
        **lane("video"),
    )


def people_table(people: list[dict]):
    """The video's people as the page shows them (the CSV has every field)."""
    rows = [
        [
            p["person"],
            f"{p['age']:.0f} ({p['age_low']:.0f}-{p['age_high']:.0f})",
            f"{p['gender']} ({p['gender_prob']:.0%})",
            f"{p['seconds_seen']:.1f}",
        ]
        for p in people
    ]
    return pd.DataFrame(rows, columns=VIDEO_HEADERS)


def ensure_cache(component: gr.components.Component) -> Path:
    """Gradio's cache folder of ``component`` (cleared with the rest of the cache: ``delete_cache``)."""
    folder = Path(component.GRADIO_CACHE)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
