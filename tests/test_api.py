"""The public Python API: a notebook session from config to a frame of lifts."""

import polars as pl
import pytest

import adsim
from adsim.core.errors import ConfigError
from adsim.reports.ab_report import ABReport
from tests.support import SMOKE


def test_a_notebook_session(tmp_path):
    cfg = adsim.load_config(SMOKE, ["traffic.n_requests=600"])
    world = adsim.build_world(cfg)
    adsim.save_world(world, tmp_path / "world", cfg)
    assert adsim.load_world(tmp_path / "world").equals(world)
    report = adsim.run_ab(cfg, tmp_path / "ab", log=lambda _: None)
    assert isinstance(report, ABReport) and report.lift_arm == "treatment"
    frame = report.to_frame()
    assert isinstance(frame, pl.DataFrame) and {"arm", "scope", "metric", "relative", "ci_low"} <= set(frame.columns)
    ctr = frame.filter((pl.col("scope") == "all") & (pl.col("metric") == "ctr"))
    assert ctr["relative"][0] == report.lift["ctr"].relative
    metrics = adsim.encoder_metrics(cfg, ["control"], world=world)
    assert metrics["control"] == report.arms["control"].intermediate_metrics


def test_the_root_exposes_the_verbs_lazily():
    for name in adsim.__all__:
        assert callable(getattr(adsim, name)), name
    with pytest.raises(AttributeError):
        adsim.no_such_verb  # noqa: B018


@pytest.mark.parametrize("call, message", [
    (lambda: adsim.load_config(SMOKE, ["arms.treatment.encoder_args={noise=-3}"]), "arms.treatment.encoder_args.noise"),
    (lambda: adsim.run_aa(adsim.load_config(SMOKE), "/tmp/never", n=0), "--n must be >= 1"),
    (lambda: adsim.encoder_metrics(adsim.load_config(SMOKE), ["nope"]), "--arm nope: no such arm"),
])
def test_api_bad_input_is_one_config_error(call, message):
    with pytest.raises(ConfigError, match=message):
        call()
