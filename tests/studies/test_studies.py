"""Experiments on smoke-sized worlds: exchange-rate sweeps (deterministic, resumable), A/A false
positives, multi-day feedback loops, slices, CRN variance reduction, scaling fits."""

import json
import shutil

import numpy as np
import pytest
from scipy.stats import t as student_t

from adsim.core.config import load_config
from adsim.core.errors import ConfigError
from adsim.studies.aa import aa_study
from adsim.studies.ab import run_ab
from adsim.studies.exchange_sweep import run_exchange_rate
from adsim.studies.predict import predict_lift
from adsim.stats.rate_fit import pct_lift
from adsim.runs.protocol import read_impressions
from adsim.studies.scaling import run_scaling
from adsim.runs.training import grown_sequences
from adsim.world.build import build_world
from tests.support import SMOKE, one_line_error, run_cli

VARIANTS = ('sweep.variants={all_03={encoder="latent-noise", encoder_args={noise=0.3}}, '
            'all_06={encoder="latent-noise", encoder_args={noise=0.6}}, '
            'all_15={encoder="latent-noise", encoder_args={noise=1.5}}, '
            'visual_04={encoder="latent-noise", encoder_args={noise=1.0, visual_noise=0.4}}}', "sweep.moon_posttrain_steps=[]")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    cfg = load_config(SMOKE, ["traffic.n_requests=3000", *VARIANTS])
    out = tmp_path_factory.mktemp("exchange")
    logs = []
    return cfg, out, run_exchange_rate(cfg, out, log=logs.append), logs


def test_exchange_rate_report_names_a_predictor_with_a_slope_and_ci(sweep):
    _, out, report, _ = sweep
    on_disk = json.loads((out / "report.json").read_text())
    rate = on_disk["exchange_rates"]["image_search_recall@10"]["ctr"]
    assert set(rate) >= {"slope", "ci_low", "ci_high", "r2", "spearman", "loo_rmse", "loo_coverage", "se_scatter", "se_traffic",
                         "reliability", "estimator"}
    assert rate["slope"] > 0 and rate["se_intermediate"] > 0  # better image search buys CTR; the held-out queries' noise is carried
    for by_d in report.exchange_rates.values():  # each part counted once: the CI is every part in quadrature
        for r in by_d.values():
            se = np.sqrt(r.se_scatter ** 2 + r.se_traffic ** 2 + r.se_intermediate ** 2)
            assert r.ci_high - r.ci_low == pytest.approx(2 * student_t.ppf(0.975, r.df) * se, rel=1e-9)
    expected = on_disk["exchange_rates"]["image_search_recall@10"]["expected_ctr"]
    assert expected["se_traffic"] < rate["se_traffic"]  # expected outcomes carry less traffic noise than sampled clicks
    best = on_disk["ranking"]["expected_ctr"][0]  # the primary
    assert best["intermediate"] == on_disk["best"]["intermediate"] and np.isfinite(best["loo_rmse"])
    assert all(a["loo_rmse"] <= b["loo_rmse"] for a, b in zip(on_disk["ranking"]["ctr"], on_disk["ranking"]["ctr"][1:]))
    for p in on_disk["plots"]:
        assert (out / p).stat().st_size > 10_000
    html = (out / "report.html").read_text()
    assert "<img" in html and best["intermediate"] in html
    assert set(on_disk["variants"]["all_03"]["slices"]) >= {"modality=image", "category=tops", "item_age=new"}


def test_predict_reads_the_sweep(sweep):
    _, out, report, _ = sweep
    ran = run_cli("exchange-rate", "predict", "--from", str(out), "--set", "image_search_recall@10=+3", "--downstream", "ctr")
    assert ran.returncode == 0, ran.stderr
    rate = report.exchange_rates["image_search_recall@10"]["ctr"]
    assert f"ctr {pct_lift(3 * rate.slope):+.2f} %" in ran.stdout and "prediction interval" in ran.stdout
    far = predict_lift(out, {"image_search_recall@10": 10 * rate.change_max})[0]
    assert far.extrapolated and far.warning
    assert one_line_error(run_cli("predict", "--from", str(out), "--set", "no_such_metric=1"), "no exchange rate for it")
    assert one_line_error(run_cli("predict", "--from", str(out), "--set", "image_search_recall@10=abc"), "METRIC=CHANGE")
    assert one_line_error(run_cli("predict", "--from", str(out / "nowhere"), "--set", "a=1"), "missing file")


def test_sweep_is_deterministic_and_resumes(sweep, tmp_path):
    cfg, out, report, _ = sweep
    # Interrupted sweep: one variant's outcome missing; the rest are reused, the numbers are the same.
    shutil.copytree(out, tmp_path / "run")
    shutil.rmtree(tmp_path / "run" / "arms" / "all_15")
    logs = []
    again = run_exchange_rate(cfg, tmp_path / "run", log=logs.append)
    assert any("reusing 4 finished arm(s)" in line for line in logs)
    assert sum("trained relevance" in line for line in logs) == 1
    assert again.exchange_rates == report.exchange_rates


@pytest.mark.slow  # 35 s of spawned workers; the serial sweep and torchrun's arms-on-ranks run by default
def test_parallel_sweep_gives_the_same_numbers(sweep, tmp_path):
    cfg, _, report, _ = sweep
    parallel = load_config(SMOKE, ["traffic.n_requests=3000", *VARIANTS, "sweep.workers=2"])
    again = run_exchange_rate(parallel, tmp_path, log=lambda _: None)
    for inter in ("image_search_recall@10", "text_recall@10"):
        for d in ("ctr", "rpm"):
            assert again.exchange_rates[inter][d].slope == pytest.approx(report.exchange_rates[inter][d].slope, rel=1e-6)


def test_aa_runs_resume_and_their_p_values_spread(tmp_path):
    """The A/A study's mechanics on four simulations (the false-positive rate itself: the slow test below)."""
    cfg = load_config(SMOKE, ["traffic.n_requests=750"])
    result = aa_study(cfg, tmp_path, n_sims=4, log=lambda _: None)
    for metric in ("ctr", "rpm", "clicks_per_request"):
        p = np.array(result.p_values[metric])
        assert len(p) == 4 and len(set(p.tolist())) > 1 and result.false_positive_rate[metric] <= 0.5
    (tmp_path / "sim02" / "report.json").unlink()  # a finished simulation is read back, not rerun
    assert aa_study(cfg, tmp_path, n_sims=4, log=lambda _: None).p_values == result.p_values
    assert not (tmp_path / "sim02" / "report.json").exists()


@pytest.mark.slow
def test_aa_false_positive_rate(tmp_path):
    cfg = load_config(SMOKE, ["traffic.n_requests=750"])  # half the smoke traffic: each draw costs half
    result = aa_study(cfg, tmp_path, n_sims=20, log=lambda _: None)
    for metric in ("ctr", "rpm", "clicks_per_request"):
        assert result.false_positive_rate[metric] <= 0.15, result.false_positive_rate
        p = np.array(result.p_values[metric])
        assert p.min() < 0.9 and p.std() > 0.1  # the arms really differ by outcome noise
    (tmp_path / "sim03" / "report.json").unlink()  # a finished simulation is read back, not rerun
    assert aa_study(cfg, tmp_path, n_sims=20, log=lambda _: None).p_values == result.p_values
    assert not (tmp_path / "sim03" / "report.json").exists()


def test_multi_day_run_grows_sequences_and_reports_days(tmp_path):
    cfg = load_config(SMOKE, ["traffic.n_days=3", "engine.retrain_daily=true"])
    world = build_world(cfg)
    report = run_ab(cfg, tmp_path, log=lambda _: None, world=world)
    assert set(report.lifts["treatment"].days) == {"day=1", "day=2"}
    assert "day=2/ranker_auc" in report.arms["treatment"].model_metrics
    served = report.arms["treatment"].metrics
    assert served["ctr"] > 0 and report.n_serving_days == 2
    # The feedback loop: a user's latest day-1 click is now the last item of their sequence.
    clicks = read_impressions(tmp_path, "treatment", 1).filter("click")
    seq = grown_sequences(world, clicks, cfg.world.seq_len)
    req = clicks["request_id"].to_numpy()
    order = np.argsort(world.requests.ts[req], kind="stable")
    latest = dict(zip(clicks["user_id"].to_numpy()[order], clicks["item_id"].to_numpy()[order]))  # last write wins
    assert len(latest) > 10
    assert all(seq[u, -1] == item for u, item in latest.items())
    untouched = np.setdiff1d(np.arange(len(world.users.user_id)), list(latest))
    base = grown_sequences(world, clicks.clear(), cfg.world.seq_len)
    assert (seq[untouched] == base[untouched]).all()


def test_slices_add_up_and_pairing_narrows_cis(tmp_path, smoke_config, smoke_world):
    report = run_ab(smoke_config, tmp_path, log=lambda _: None, world=smoke_world)
    slices = report.lifts["treatment"].slices
    new, old = slices["item_age=new"]["clicks_per_request"], slices["item_age=established"]["clicks_per_request"]
    total = report.lift["clicks_per_request"]
    assert new.treatment + old.treatment == pytest.approx(total.treatment)
    assert new.control + old.control == pytest.approx(total.control)
    crn = report.lifts["treatment"].crn
    assert crn["rpm"].paired_ci_width < crn["rpm"].unpaired_ci_width
    assert 0 < report.lifts["treatment"].power["ctr"].mde_relative < 5
    assert "Power and common random numbers" in (tmp_path / "report.md").read_text()


def test_scaling_seq_len_fits_a_curve(tmp_path):
    cfg = load_config(SMOKE, ["scaling.values=[1, 4, 16]", "traffic.n_requests=3000"])
    report = run_scaling(cfg, tmp_path, log=lambda _: None)
    assert [p.x for p in report.points.values()] == [1.0, 4.0, 16.0]
    fit = report.fits["ranker_auc"]
    assert fit.ok and np.isfinite([fit.a, fit.b, fit.c]).all()
    assert all((tmp_path / p).exists() for p in report.plots)
    assert report.to_frame()["x"].to_list() == [1.0, 4.0, 16.0]


def test_sweep_serves_named_moon_variants_against_a_baseline(tmp_path):
    """Named variants and post-training lengths train from shared pretraining runs (one per kind of
    pretraining: reasoning changes it), GRPO continues the imitation run, and every variant is
    priced against the baseline."""
    cfg = load_config(SMOKE, ["encoder_train.pretrain_steps=4", "encoder_train.posttrain_steps=3", "encoder_train.grpo_steps=2",
                              "encoder_train.batch_size=16", "sweep.moon_posttrain_steps=[2]", "traffic.n_requests=600",
                              'sweep.variants={a={encoder="latent-noise", encoder_args={noise=0.5}}}',
                              'sweep.moon_variants={moon={}, imitation={reasoning="imitation"}, grpo={reasoning="grpo"}}',
                              'sweep.baseline="moon"'])
    report = run_exchange_rate(cfg, tmp_path, log=lambda _: None)
    assert set(report.variants) == {"a", "moon_post2", "moon", "imitation", "grpo"}
    assert report.variants["moon_post2"].encoder == "moon"
    names = sorted(p.name.split("-")[0] for p in (tmp_path / "encoders").iterdir())
    assert names == ["grpo", "imitation", "moon", "moon_post2", "pretrain", "pretrain"]  # moon_post2 shares moon's
    folders = {p.name.split("-")[0]: p for p in (tmp_path / "encoders").iterdir()}
    assert not (folders["moon_post2"] / "logs" / "pretrain").exists() and (folders["moon_post2"] / "stages" / "pretrain").exists()
    assert (folders["grpo"] / "stages" / "grpo" / "config.json").exists()
    # GRPO continued the cached imitation encoder's first two stages instead of training them again.
    assert not (folders["grpo"] / "logs" / "posttrain").exists() and (folders["imitation"] / "logs" / "posttrain").exists()
    assert set(report.against_baseline) == {"a", "moon_post2", "imitation", "grpo"}
    for name, row in report.against_baseline.items():
        v, b = report.variants[name].lift["ctr"], report.variants["moon"].lift["ctr"]
        assert row.lift["ctr"].relative == pytest.approx((1 + v.relative) / (1 + b.relative) - 1, rel=1e-9, abs=1e-12)
        assert row.lift["ctr"].ci_low <= row.lift["ctr"].relative <= row.lift["ctr"].ci_high
    on_disk = json.loads((tmp_path / "report.json").read_text())
    assert on_disk["baseline"] == "moon" and set(on_disk["against_baseline"]) == {"a", "moon_post2", "imitation", "grpo"}
    assert "Against the baseline `moon`" in (tmp_path / "report.md").read_text()


@pytest.mark.parametrize("change, message", [
    ('sweep.moon_variants={x={no_such_knob=1}}', "sweep.moon_variants.x.no_such_knob: unknown key"),
    ('sweep.moon_variants={x={reasoning="sometimes"}}', "sweep.moon_variants.x.reasoning: must be one of"),
    ('sweep.baseline="nobody"', "sweep.baseline: 'nobody' is not a variant"),
])
def test_bad_moon_variants_and_baselines_are_one_clear_error(change, message):
    with pytest.raises(ConfigError, match=message):
        load_config(SMOKE, [change])


def test_a_resumed_demo_keeps_the_time_of_the_runs_that_did_the_work(tmp_path):
    from adsim.studies.demo import accumulated_timings
    path = tmp_path / "timings.json"
    assert accumulated_timings(path, "k", {"encoder": 100.0, "ab": 50.0}) == {"encoder": 100.0, "ab": 50.0}
    assert accumulated_timings(path, "k", {"encoder": 0.1, "ab": 0.5}) == {"encoder": 100.1, "ab": 50.5}  # a resume
    assert accumulated_timings(path, "other settings", {"encoder": 3.0, "ab": 4.0}) == {"encoder": 3.0, "ab": 4.0}
