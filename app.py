"""Hugging Face Space entry point: the faceage Gradio app on the shipped model.

Locally: ``python app.py`` (or ``faceage app``). The model is ``models/`` unless
``FACEAGE_MODEL_DIR`` says otherwise. Feedback goes to ``FACEAGE_DB_URL`` if set; else, on a
Space with persistent storage (mounted at ``/data``), to ``/data/faceage/feedback.db``; else
to the default SQLite file (lost when a Space without persistent storage restarts).
"""

import os
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
if os.environ.get("SPACE_ID") and Path("/data").is_dir() and os.access("/data", os.W_OK):
    os.environ.setdefault("FACEAGE_HOME", "/data/faceage")

from faceage_lib.app.page import LAUNCH_OPTIONS, build_app  # noqa: E402

demo = build_app()

if __name__ == "__main__":
    # Host and port: GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (a Space sets them), else 127.0.0.1:7860.
    demo.launch(**LAUNCH_OPTIONS)
