import numpy as np

from adsim.truth.clicks import click_uniforms, simulate_outcomes


def test_click_rate_matches_true_ctr_within_binomial_interval():
    n = 200_000
    requests = np.arange(n)
    for p in (0.01, 0.05, 0.2, 0.6):
        out = simulate_outcomes(11, requests, np.full(n, 17), np.full(n, 2), np.full(n, p), np.full(n, 0.3))
        half_width = 3.29 * np.sqrt(p * (1 - p) / n)  # 99.9 % interval
        assert abs(out.click.mean() - p) < half_width, p
        assert not (out.purchase & ~out.click).any()
        assert abs(out.purchase[out.click].mean() - 0.3) < 3.29 * np.sqrt(0.21 / out.click.sum())


def test_varied_probabilities_sum_to_expected_clicks():
    rng = np.random.default_rng(0)
    n = 100_000
    p = rng.uniform(0, 0.3, n)
    out = simulate_outcomes(3, rng.integers(0, 10**9, n), rng.integers(0, 10**5, n), rng.integers(0, 4, n), p, p)
    assert abs(out.click.sum() - p.sum()) < 3.29 * np.sqrt((p * (1 - p)).sum())


def test_common_random_numbers():
    req, item, slot = np.arange(1000), np.arange(1000) % 37, np.arange(1000) % 4
    base = click_uniforms(5, req, item, slot)
    perm = np.random.default_rng(1).permutation(1000)
    # A pure function of (seed, request, item, slot): batch order and batch company do not matter.
    assert np.array_equal(click_uniforms(5, req[perm], item[perm], slot[perm]), base[perm])
    assert np.array_equal(click_uniforms(5, req[:10], item[:10], slot[:10]), base[:10])
    # Two arms showing the same ad in the same slot get the same outcome.
    p = np.full(1000, 0.3)
    a = simulate_outcomes(5, req, item, slot, p, p)
    b = simulate_outcomes(5, req, item, slot, p, p)
    assert np.array_equal(a.click, b.click) and np.array_equal(a.purchase, b.purchase)
    # Another slot, item or seed gives an independent draw.
    for other in (click_uniforms(5, req, item, slot + 1), click_uniforms(5, req, item + 1, slot), click_uniforms(6, req, item, slot)):
        assert abs(np.corrcoef(base, other)[0, 1]) < 0.1
        assert not np.array_equal(base, other)
    assert 0 <= base.min() and base.max() < 1
