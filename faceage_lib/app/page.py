"""The Gradio app: a photo in, every face boxed and labelled with age and gender, a table out;
a live webcam view (:mod:`.live`; faces followed by :mod:`faceage_lib.render.tracking`) and many
photos at once (:mod:`.crowd`).

The work is done by plain functions that tests call directly (:func:`analyze_photo`,
:func:`draw_faces`, :func:`save_feedback`, :func:`~.live.annotate_frame`,
:func:`~.crowd.analyze_crowd`); :func:`build_app` only wires them to the page.

>>> demo = build_app("models/")      # or build_app() for the shipped / $FACEAGE_MODEL_DIR model
>>> demo.launch(**LAUNCH_OPTIONS)    # or launch(): the same, with host, port and share

It runs offline (no analytics, system fonts only); only ``launch(share=True)`` gives a public link
(also in Colab). Feedback (a face crop with the true age) is stored only when the user ticks the
consent box, in :class:`faceage_lib.feedback.FeedbackStore`; if that database cannot be
opened, the app still analyses photos and the page says why feedback is off.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import gradio as gr

from ..feedback import FeedbackStore
from ..inference.predictor import Predictor
from . import admission
from .analysis import open_store
from .style import CSS, HEAD, THEME
from .tabs import crowd_tab, live_tab, photo_tab, video_tab
from .texts import TITLE, intro
from .uploads import CACHE_CHECK_S, CACHE_MAX_AGE_S, MAX_FILE_SIZE, MAX_SESSIONS, start_sweeping, upload_folder

log = logging.getLogger(__name__)

#: Events run at once per event type, for events outside :data:`~.admission.LANES`.
CONCURRENCY_LIMIT = 2
#: What ``demo.launch`` needs besides host and port: the page's style and theme, an upload limit,
#: no run history (it would keep users' photos in their browser's storage), a bounded number of
#: sessions kept, and no ``/monitoring`` pages (open to anyone).
LAUNCH_OPTIONS: dict[str, Any] = dict(
    css=CSS,
    head=HEAD,
    theme=THEME,
    max_file_size=MAX_FILE_SIZE,
    run_history=False,
    state_session_capacity=MAX_SESSIONS,
    enable_monitoring=False,
)


def build_app(model_dir: str | os.PathLike | None = None, store: FeedbackStore | None = None) -> gr.Blocks:
    """The app's page, its events and queue; ``launch()`` it or use :func:`launch`.

    The model is loaded here, once (``ModelFileError`` if it is missing); ``store`` defaults
    to ``FeedbackStore()`` (``$FACEAGE_DB_URL`` or the SQLite file under the data folder).
    If that database cannot be opened, the app starts with feedback switched off and says why.
    Events have the API names ``/analyze``, ``/feedback``, ``/live``, ``/crowd`` and ``/video``, each
    in a lane of its own (:mod:`.admission`).
    """
    predictor = Predictor(model_dir)
    start_sweeping(upload_folder())  # before the page exists: Gradio reads the folder's name then
    store, store_off = (store, "") if store is not None else open_store()
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(CACHE_CHECK_S, CACHE_MAX_AGE_S)) as demo:
        estimator = predictor.estimator
        gr.Markdown(
            intro(estimator.manifest["files"]["model.tflite"]["sha256"], estimator.measured_file()),
            elem_id="faceage-intro",
        )
        with gr.Tabs(overflow_behavior="wrap"):  # on a phone every tab in sight, none in a menu
            with gr.Tab("Photo", id="photo"):
                photo_tab(predictor, store, store_off)
            with gr.Tab("Live webcam", id="live"):
                live_tab(predictor)
            with gr.Tab("Many photos", id="crowd"):
                crowd_tab(predictor)
            with gr.Tab("Video", id="video"):
                video_tab(predictor)
    demo.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=admission.total_waiting())
    admission.install(demo)
    return demo


def launch(
    model_dir: str | os.PathLike | None = None, share: bool = False, host: str = "127.0.0.1", port: int = 7860, **kwargs
) -> gr.Blocks:
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
        lines.append(
            "To share it with a public link, start it with `faceage app --share` (in Python: launch(share=True))."
        )
    return lines
