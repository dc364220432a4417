"""The ranker's calibration holds across its own seeds on the demo config (slow: about 4 minutes)."""

import pytest

from adsim.api import load_config, run_ab
from tests.support import ROOT


@pytest.mark.slow
def test_calibration_within_ten_percent_across_ranker_seeds(tmp_path):
    report = run_ab(load_config(ROOT / "experiments" / "ranker_seeds.toml"), tmp_path, log=lambda _: None)
    for arm, summary in report.arms.items():
        m = summary.model_metrics
        assert 0.9 <= m["ranker_calibration_true"] <= 1.1, (arm, m["ranker_calibration_true"])
        assert m["ranker_log_loss"] < m["ranker_log_loss_position_only"], arm
