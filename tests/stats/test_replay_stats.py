"""The replay's intervals: the bootstrap metrics agree with the plain ones, pairing cancels shared
noise, and training seeds widen the interval."""

import numpy as np

from adsim.stats.model_metrics import auc, group_auc, log_loss
from adsim.stats.replay_stats import HeldOut, combine, metric_draws


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
