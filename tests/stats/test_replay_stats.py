"""The replay's intervals: the bootstrap metrics agree with the plain ones, pairing cancels shared
noise, and training seeds widen the interval."""

import numpy as np
import pytest

from adsim.stats.model_metrics import auc, group_auc, log_loss
from adsim.stats.replay_stats import HeldOut, combine, interaction_variance, metric_draws


def _data(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    user = rng.integers(0, 150, n)
    score = rng.random(n)
    label = (rng.random(n) < 0.2 + 0.5 * score * (user % 3 == 0)).astype(np.int8)
    return label, user, np.round(score, 2)  # rounded: ties


def test_values_equal_the_plain_metrics_and_draws_scatter_around_them():
    label, user, prob = _data()
    held = HeldOut.of(label, user, seed=1, n_boot=300)
    m = metric_draws(held, prob)
    assert abs(m["auc"][0] - auc(label, prob)) < 1e-12
    assert abs(m["gauc"][0] - group_auc(label, prob, user)) < 1e-12
    assert abs(m["log_loss"][0] - log_loss(label, prob)) < 1e-9
    for value, draws in m.values():
        assert draws.shape == (300,) and abs(np.nanmean(draws) - value) < 3 * np.nanstd(draws) / np.sqrt(300) + 0.01


def test_a_paired_difference_of_the_same_scores_is_exactly_zero_and_a_shift_is_found():
    label, user, prob = _data()
    held = HeldOut.of(label, user, seed=2, n_boot=200)
    a = metric_draws(held, prob)["auc"]
    same = combine(np.array([a[0] - a[0]]), (a[1] - a[1])[None])
    assert same.value == 0 and same.ci_low == 0 and same.ci_high == 0
    better = metric_draws(held, prob + 0.3 * label * (user % 3 == 1))["auc"]  # a model that knows more
    d = combine(np.array([better[0] - a[0]]), (better[1] - a[1])[None])
    assert d.ci_low > 0


def test_the_spread_over_seeds_adds_to_the_bootstrap_variance():
    draws = np.random.default_rng(0).normal(0, 0.01, (3, 400))
    tight = combine(np.array([0.5, 0.5, 0.5]), draws)
    loose = combine(np.array([0.45, 0.5, 0.55]), draws)
    assert abs(loose.se ** 2 - tight.se ** 2 - 0.05 ** 2 / 3) < 1e-12
    assert loose.ci_low < tight.ci_low and loose.value == tight.value == 0.5


def _coverage(seed_sd: float, interaction_sd: float = 0.2, few_seeds: bool = True, net: bool = True,
              sims: int = 400, seeds: int = 3, units: int = 300) -> float:
    """Share of intervals covering the true mean difference (0) when per-unit differences are drawn
    once per simulation, each training seed shifts the whole difference by N(0, seed_sd), and each
    (unit, seed) adds N(0, interaction_sd) (a query one seed gets right and another wrong)."""
    rng = np.random.default_rng(7)
    covered = 0
    for _ in range(sims):
        per_seed = rng.normal(0.0, 1.0, units) + rng.normal(0.0, seed_sd, (seeds, 1)) + rng.normal(0.0, interaction_sd, (seeds, units))
        w = rng.poisson(1.0, (200, units)).astype(np.float64)
        draws = (per_seed @ w.T) / w.sum(1)
        est = combine(per_seed.mean(1), draws, few_seeds=few_seeds, interaction=interaction_variance(per_seed) if net else 0.0)
        covered += est.ci_low <= 0.0 <= est.ci_high
    return covered / sims


def test_few_seeds_keeps_its_level_where_the_seed_spread_dominates_and_z_does_not():
    """3 seeds whose spread (sd 0.3) is five times the units' standard error (1/sqrt(300)): each
    variance with its own quantile covers about 95 %, z alone well under; where the units dominate
    (seed sd 0.005) both are near 95 %."""
    assert 0.93 <= _coverage(0.3) <= 0.985
    assert _coverage(0.3, few_seeds=False) < 0.9
    assert 0.93 <= _coverage(0.005) <= 0.985 and 0.93 <= _coverage(0.005, few_seeds=False) <= 0.985


def test_the_unit_by_seed_interaction_is_counted_once():
    """A large interaction (sd 2 per unit and seed): the bootstrap of the seed mean carries it, so
    taking it out of the seeds' variance keeps the level (measured 0.96), where counting it twice,
    once with t(2), covers 0.99 and more: wider than it needs to be."""
    assert 0.93 <= _coverage(0.005, interaction_sd=2.0) <= 0.985
    assert _coverage(0.005, interaction_sd=2.0, net=False) >= 0.985
    assert 0.92 <= _coverage(0.3, interaction_sd=2.0) <= 0.985
    rng = np.random.default_rng(0)
    assert interaction_variance(rng.normal(0, 1, (1, 50))) == 0.0
    additive = rng.normal(0, 1, (1, 400)) + rng.normal(0, 1, (3, 1))  # unit + seed, no interaction
    assert interaction_variance(additive) < 1e-12
    noisy = additive + rng.normal(0, 2.0, (3, 400))
    assert interaction_variance(noisy) * 400 == pytest.approx(4.0, rel=0.1)
