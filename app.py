"""Hugging Face Space entry point: the faceage Gradio app on the model in models/.

Locally, `faceage app` does the same (with --share, --host and --port).
"""

from faceage_lib.app import launch

if __name__ == "__main__":
    launch(host="0.0.0.0")
