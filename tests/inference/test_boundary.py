"""The inference half stands alone: a prediction loads no training, evaluation or app code and
none of the heavy libraries, and ``faceage predict`` starts without them too."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

FORBIDDEN_LIBRARIES = (
    "tensorflow",
    "keras",
    "pandas",
    "gradio",
    "sqlalchemy",
    "matplotlib",
    "seaborn",
    "jax",
    "torch",
    "kagglehub",
    "ray",
    "pyarrow",
)
FORBIDDEN_PARTS = ("faceage_lib.training", "faceage_lib.evaluation", "faceage_lib.app")

#: What building the CLI's options loads of the training half: the TrainConfig dataclass and the
#: backbones' names (their builders import Keras only when called).
CLI_OPTIONS = {"faceage_lib.training", "faceage_lib.training.config", "faceage_lib.training.backbones"}

PROBE = """
import json, sys
import numpy as np
from faceage_lib import Predictor
predictor = Predictor(sys.argv[1])
faces = predictor.predict(np.full((120, 160, 3), 128, np.uint8))
print(json.dumps(sorted(sys.modules)))
"""


def _loaded_after(code: str, *args: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def _offenders(modules: list[str]) -> list[str]:
    return [m for m in modules if m.split(".")[0] in FORBIDDEN_LIBRARIES or m.startswith(FORBIDDEN_PARTS)]


def test_a_prediction_imports_only_the_inference_half(tiny_model_dir):
    modules = _loaded_after(PROBE, str(tiny_model_dir))
    assert "faceage_lib.inference.predictor" in modules  # the probe did run
    assert _offenders(modules) == []


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_a_plain_predict_to_json_loads_no_ray_pandas_or_pyarrow(tiny_model_dir, tmp_path, mode):
    from PIL import Image

    photo = tmp_path / "one.jpg"
    Image.new(mode, (160, 120), "gray").save(photo)
    code = (
        "import json, sys\nfrom faceage_lib.cli import main\n"
        "assert main(['predict', sys.argv[1], '--model', sys.argv[2], '--format', 'json']) == 0\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    modules = _loaded_after(code, str(photo), str(tiny_model_dir))
    assert "faceage_lib.batch.job" in modules
    assert [m for m in _offenders(modules) if m not in CLI_OPTIONS] == []
    assert "faceage_lib.training.config" not in modules  # only predict's options are built
    pillow = {m for m in modules if m.split(".")[0] == "PIL"}
    if mode == "RGB":  # a plain colour JPEG is read and decoded without Pillow
        assert pillow == set()
    else:  # a grayscale one by Pillow, which loads its JPEG plugin and not the other formats'
        assert "PIL.JpegImagePlugin" in pillow
        assert not {"PIL.WebPImagePlugin", "PIL.TiffImagePlugin"} & pillow


def test_the_cli_parser_imports_nothing_heavy():
    code = (
        "import json, sys\nfrom faceage_lib.cli import build_parser\nbuild_parser()\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    modules = _loaded_after(code)
    assert [m for m in _offenders(modules) if m not in CLI_OPTIONS] == []
    assert not any(m.startswith("faceage_lib.inference") for m in modules)
