"""faceage_lib.training.runs: a run's config.json holds its settings and the faceage that started it."""

from __future__ import annotations

import dataclasses
import json

import pytest

from faceage_lib.errors import DatasetError
from faceage_lib.training.config import TrainConfig
from faceage_lib.training.runs import MADE_BY, check_same_config, run_config, run_made_by, write_config

MADE = {"faceage_version": "0.4.0", "git_commit": "0123abc-dirty"}


def test_config_json_keeps_the_settings_and_who_started_the_run(tmp_path):
    config = TrainConfig(epochs=3, limit=32)
    write_config(tmp_path, config, MADE)
    assert json.loads((tmp_path / "config.json").read_text()) == {**dataclasses.asdict(config), **MADE}
    assert run_config(tmp_path) == config  # what started it is no setting
    assert run_made_by(tmp_path) == MADE and set(MADE) == set(MADE_BY)
    check_same_config(tmp_path, config)  # the same settings: resumable
    with pytest.raises(DatasetError, match="--epochs"):
        check_same_config(tmp_path, dataclasses.replace(config, epochs=4))
    with pytest.raises(ValueError, match="only the settings"):
        write_config(tmp_path, config, {"note": "x"})


def test_a_run_from_before_0_4_records_no_maker(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(dataclasses.asdict(TrainConfig(epochs=2))))
    assert run_config(tmp_path).epochs == 2 and run_made_by(tmp_path) == {}
