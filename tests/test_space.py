"""The Hugging Face Space: README.md's front matter, a slim requirements.txt, and app.py starting
in a fresh virtual environment that has only those requirements.

The last test installs from the package index (about a minute with a warm pip cache); without a
network it is skipped, except in CI (``CI=true``), where it must run.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TRAINING_ONLY = ("tensorflow", "keras", "kagglehub", "matplotlib", "seaborn", "jax", "torch")


def front_matter() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    match = re.match(r"---\n(.*?)\n---\n", text, re.S)
    assert match, "README.md must start with the Space's YAML front matter"
    return dict(line.split(": ", 1) for line in match[1].splitlines() if ": " in line)


def gradio_pin() -> str:
    pins = re.findall(r"^gradio==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
    assert len(pins) == 1, "requirements.txt must pin gradio"
    return pins[0]


def test_front_matter_names_the_app_and_the_tested_gradio():
    from importlib.metadata import version

    matter = front_matter()
    assert matter["sdk"] == "gradio" and (ROOT / matter["app_file"]).is_file()
    assert matter["sdk_version"] == gradio_pin() == version("gradio")


def test_requirements_leave_training_out():
    text = (ROOT / "requirements.txt").read_text().lower()
    assert not [name for name in TRAINING_ONLY if re.search(rf"^{name}\b", text, re.M)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
@pytest.mark.network
def test_app_py_starts_with_only_the_requirements(tmp_path):
    venv = tmp_path / "space"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-r", str(ROOT / "requirements.txt")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if install.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail(f"pip could not install requirements.txt:\n{install.stderr[-3000:]}")
        pytest.skip(f"requirements.txt could not be installed here (no package index?): {install.stderr[-300:]}")
    leftover = subprocess.run(
        [str(python), "-c", f"import importlib.util as u; print([n for n in {TRAINING_ONLY!r} if u.find_spec(n)])"],
        capture_output=True,
        text=True,
    )
    assert leftover.stdout.strip() == "[]"

    port = _free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "FACEAGE_HOME": str(tmp_path / "home"), "PYTHONPATH": ""}
    server = subprocess.Popen(
        [str(python), "app.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            assert server.poll() is None, f"app.py exited:\n{server.stdout.read()[-3000:]}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as page:
                    assert page.status == 200 and b"gradio" in page.read().lower()
                    return
            except OSError:
                time.sleep(1)
        pytest.fail("app.py did not answer within 120 s")
    finally:
        server.terminate()
        server.wait(timeout=30)
