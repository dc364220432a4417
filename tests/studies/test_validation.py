"""Replicates, lift coverage and the full-pipeline A/A on smoke-sized worlds."""

import json

import numpy as np
import pytest

from adsim.core.config import load_config
from adsim.studies.aa import aa_config, aa_study
from adsim.studies.ab import run_ab
from adsim.studies.coverage import lift_coverage
from adsim.studies.replicates import run_replicated_ab
from tests.support import SMOKE, one_line_error, run_cli


def test_replicates_rerun_everything_the_arms_do_not_control(tmp_path):
    cfg = load_config(SMOKE, ["traffic.n_requests=600"])
    report = run_replicated_ab(cfg, tmp_path / "rep", n_replicates=3)
    base = run_ab(cfg, tmp_path / "base", log=lambda _: None)
    ctr = report.lifts["treatment"]["ctr"]
    assert ctr.base.relative == pytest.approx(base.lift["ctr"].relative)  # replicate 0 is the plain run
    assert len(set(np.round(ctr.replicate_lifts, 9))) == 3                # the others re-draw
    c = ctr.combined
    assert c.ci_low < c.mean < c.ci_high and c.df == 2 and c.between_sd > 0
    assert c.mean == pytest.approx(np.mean(ctr.replicate_lifts))
    on_disk = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert on_disk["n_replicates"] == 3 and (tmp_path / "rep" / "rep02" / "report.json").exists()
    again = run_replicated_ab(cfg, tmp_path / "rep", n_replicates=3)  # resumes: every arm reused
    assert again.lifts["treatment"]["ctr"].combined == c


def test_lift_coverage_on_independent_traffic_draws(tmp_path):
    cfg = load_config(SMOKE, ["traffic.n_requests=600"])
    report = lift_coverage(cfg, tmp_path, n_draws=30, truth_factor=5, log=lambda _: None)
    for metric, cov in report.metrics.items():
        # 95 % CIs: P(at most 23 of 30 cover) < 0.4 % when they are calibrated.
        assert cov.coverage >= 24 / 30, (metric, cov)
        assert np.isfinite(cov.true_lift) and cov.lift_sd > 0 and cov.mean_se > 0
        assert 0.5 < cov.mean_se / cov.lift_sd < 2  # the bootstrap's error is of the right size
    assert json.loads((tmp_path / "coverage.json").read_text())["n_draws"] == 30


def test_full_pipeline_aa_twins_differ_by_training_seeds_and_clicks():
    cfg = aa_config(load_config(SMOKE), 3, other_training_seeds=True)
    control, twin = cfg.arms["control"], cfg.arms["twin"]
    assert twin.encoder_args == control.encoder_args and twin.click_stream == 1
    assert cfg.stage("ranker", twin).seed != cfg.stage("ranker", control).seed
    assert cfg.stage("relevance", twin).seed != cfg.stage("relevance", control).seed


@pytest.mark.slow
def test_full_pipeline_aa_false_positive_rate(tmp_path):
    result = aa_study(load_config(SMOKE), tmp_path, n_sims=20, replicates=3, workers=2, log=lambda _: None)
    for metric in ("ctr", "rpm", "clicks_per_request"):
        assert result.false_positive_rate[metric] <= 0.2, result.false_positive_rate


@pytest.mark.parametrize("args, message", [
    (["ab", "--replicates", "0"], "--replicates must be 1 (one run) or >= 2"),
    (["validate", "coverage", "--draws", "0"], "--draws >= 1"),
    (["validate", "aa", "--n", "0"], "--n must be >= 1"),
])
def test_validation_commands_reject_bad_settings(tmp_path, args, message):
    assert one_line_error(run_cli(*args, "-c", str(SMOKE), "-o", str(tmp_path / "x")), message)


VARIANTS = ('sweep.variants={a={encoder="latent-noise", encoder_args={noise=0.3}}, '
            'b={encoder="latent-noise", encoder_args={noise=0.6}}, c={encoder="latent-noise", encoder_args={noise=1.5}}}')


@pytest.mark.slow  # 3 replicate sweeps of 6 arms (about 100 s); the replicated sweep below stays in the suite
def test_exchange_coverage(tmp_path):
    from adsim.studies.exchange_coverage import exchange_coverage
    drawn = 'sweep.families={d={draws=2, grid={noise=[0.4, 1.4]}}}'
    cfg = load_config(SMOKE, ["traffic.n_requests=600", VARIANTS, drawn, "sweep.moon_posttrain_steps=[]"])
    report = exchange_coverage(cfg, tmp_path / "cov", n_replicates=3, log=lambda _: None)
    assert set(report.cells) == {"expected_ctr", "ctr"} and set(report.cells["ctr"]) == {"tc", "york", "wls"}
    cov = report.cells["expected_ctr"]["tc"]["image_search_recall@10"]
    assert cov.n == 3 and 0 <= cov.coverage <= 1 and np.isfinite(cov.truth_slope) and cov.mean_ci_width > 0
    assert 0 <= cov.family_pi_coverage <= 1 and np.isnan(cov.truth_slope_big)  # the drawn family held out whole
    summary = report.summary()["ctr"]["wls"]
    assert 0 <= summary["coverage"] <= 1 and summary["n_metrics"] >= 3
    assert "slope CIs cover the truth" in "\n".join(report.lines())
    drawn_args = [json.loads((tmp_path / "cov" / f"rep{r:02d}" / "arms" / "d_draw00" / "outcome.json").read_text())["spec"]["encoder_args"]
                  for r in range(2)]
    assert drawn_args[0] != drawn_args[1]  # each replicate serves new members of a drawn family
    assert "NaN" not in (tmp_path / "cov" / "exchange_coverage.json").read_text()


def test_replicated_sweeps_average_their_points_and_carry_their_spread(tmp_path):
    from adsim.studies.exchange_sweep import run_exchange_rate
    cfg = load_config(SMOKE, ["traffic.n_requests=600", VARIANTS, "sweep.moon_posttrain_steps=[]"])
    pooled = run_exchange_rate(cfg, tmp_path / "run", log=lambda _: None, replicates=2)
    rate = pooled.exchange_rates["image_search_recall@10"]["ctr"]
    assert rate.n_replicates == 2 and rate.se_replicates > 0 and rate.se >= rate.se_replicates
