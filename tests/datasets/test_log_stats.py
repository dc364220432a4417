"""The statistics calibration reads off a log recover the parameters that generated it."""

import numpy as np
import pytest

from adsim.datasets.log_stats import (
    LogCounts,
    decay_from_examination,
    log_stats,
    lognormal_sigma,
    pbm_examination,
    stats_from_counts,
    zipf_exponent,
)


def test_pbm_em_separates_the_slot_from_the_ad():
    rng = np.random.default_rng(0)
    n, n_items = 200_000, 500
    item = rng.integers(0, n_items, n)
    gamma = rng.beta(2, 8, n_items)
    slot = rng.integers(0, 4, n)
    theta = 1 / (np.arange(4) + 1.0) ** 1.2
    # The better ads sit higher (as a ranker puts them), so raw CTR by slot overstates the decay.
    slot = np.where(gamma[item] > np.quantile(gamma, 0.7), np.minimum(slot, rng.integers(0, 2, n)), slot)
    click = rng.random(n) < theta[slot] * gamma[item]
    est = pbm_examination(slot, item, click)
    np.testing.assert_allclose(est, theta, atol=0.04)
    raw = np.bincount(slot, click) / np.bincount(slot)
    assert decay_from_examination(raw / raw[0]) > 1.4  # the naive slot CTR is biased; the EM is not
    assert decay_from_examination(est) == pytest.approx(1.2, abs=0.08)


def test_decay_of_exact_examination_and_one_slot():
    assert decay_from_examination(1 / (np.arange(5) + 1.0) ** 0.7) == pytest.approx(0.7)
    assert decay_from_examination(np.array([1.0])) is None


@pytest.mark.parametrize("sigma", [0.3, 1.0])
def test_lognormal_sigma_behind_poisson_counts(sigma):
    rng = np.random.default_rng(1)
    activity = rng.lognormal(0, sigma, 50_000)
    counts = rng.poisson(40 * activity / activity.mean())
    assert lognormal_sigma(counts) == pytest.approx(sigma, abs=0.06)


def test_zipf_exponent_of_zipf_shares():
    counts = np.round(1e6 / np.arange(1, 200) ** 1.1)
    assert zipf_exponent(counts) == pytest.approx(1.1, abs=0.02)
    assert zipf_exponent(np.array([5, 0, 0])) == 0.0


def test_counts_of_parts_add_up_to_the_stats_of_the_whole_log():
    """Calibrate reads a log part by part: the parts' counts, added, give what all rows give."""
    rng = np.random.default_rng(2)
    n = 5_000
    user, time = rng.integers(0, 300, n), rng.integers(0, 50, n)
    item, slot, click = rng.integers(0, 80, n), rng.integers(0, 3, n), rng.random(n) < 0.1
    category = item % 7
    shape = (3, 80, 300, 7)
    whole = log_stats(user, time, item, slot, click, category, np.ones(10), None)
    low = user < 150  # parts hold whole users
    parts = [LogCounts.of(user[m], time[m], item[m], slot[m], click[m], category[m], shape) for m in (low, ~low)]
    summed = stats_from_counts(parts[0].add(parts[1]), np.ones(10), None)
    for field in ("impressions", "users", "ctr", "activity_sigma", "requests_per_user", "category_zipf"):
        assert getattr(summed, field) == pytest.approx(getattr(whole, field), rel=1e-12)
    np.testing.assert_allclose(summed.examination, whole.examination, rtol=1e-9)
