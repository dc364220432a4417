"""`adsim validate replay`: the coverage study of replay's intervals, at toy size, and its parts."""

import json

import numpy as np
import pytest

from adsim import cli
from adsim.core.config import RankerConfig
from adsim.core.errors import ConfigError
from adsim.realdata.replay_coverage import expected_auc, run_replay_coverage
from adsim.realdata.replay_settings import ReplayCoverageSettings, ReplaySettings
from adsim.stats.model_metrics import auc


def test_expected_auc_is_the_auc_when_labels_are_certain_and_the_mean_auc_of_drawn_labels():
    rng = np.random.default_rng(0)
    score, label = rng.random(500), rng.random(500) < 0.3
    assert expected_auc(score, label.astype(float)) == pytest.approx(auc(label, score))
    assert expected_auc(np.ones(500), rng.random(500)) == pytest.approx(0.5)
    p = rng.random(12)  # a small sample, where a row paired with itself would show
    s = rng.random(12)
    drawn = [auc(y, s) for y in (rng.random((20000, 12)) < p) if 0 < y.sum() < 12]
    assert expected_auc(s, p) == pytest.approx(np.mean(drawn), abs=0.01)


def test_a_toy_study_grades_its_intervals_against_a_truth_the_embeddings_raise(tmp_path):
    s = ReplayCoverageSettings(draws=8, users=120, per_draw=30, per_user_day=4, seed_pool=3,
                               replay=ReplaySettings(ranker=RankerConfig(batch_size=256, seq_len=10), seeds=2, n_boot=50))
    report = run_replay_coverage(tmp_path, s)
    saved = json.loads((tmp_path / "replay_coverage.json").read_text())
    assert saved["draws"] == 8 and 0 <= saved["covered"] <= 8 and saved["settings"]["seed_pool"] == 3
    assert report.truth_auc_diff > 0.05  # clicks follow the embeddings' signal
    assert abs(report.mean_estimate - report.truth_auc_diff) < 3 * report.mean_se  # replay's estimate is about unbiased


@pytest.mark.parametrize("kwargs, expected", [
    ({"per_draw": 1000}, "per_draw must be between 1 and users - 1"),
    ({"seed_pool": 1}, "cannot exceed the pool"),
    ({"draws": 0}, "draws must be at least 1"),
])
def test_bad_study_sizes_are_one_error(kwargs, expected):
    with pytest.raises(ConfigError, match=expected):
        ReplayCoverageSettings(**kwargs)


def test_bad_sizes_on_the_command_line_are_one_line(tmp_path, capsys):
    assert cli.main(["validate", "replay", "--out", str(tmp_path / "v"), "--per-draw", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "per_draw must be between" in err[0]
