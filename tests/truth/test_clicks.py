"""Clicks per factor of the position-based model, with common random numbers per factor."""

import numpy as np

from adsim.truth.clicks import attraction_uniforms, examination_uniforms, simulate_outcomes


def test_click_rate_matches_examination_times_attraction():
    n = 200_000
    requests = np.arange(n)
    for exam, attr in ((0.2, 0.05), (1.0, 0.2), (0.5, 0.6), (0.9, 0.9)):
        p = exam * attr
        out = simulate_outcomes(11, requests, np.full(n, 17), np.full(n, 2), np.full(n, exam), np.full(n, attr), np.full(n, 0.3))
        half_width = 3.29 * np.sqrt(p * (1 - p) / n)  # 99.9 % interval
        assert abs(out.click.mean() - p) < half_width, (exam, attr)
        assert not (out.purchase & ~out.click).any()
        assert abs(out.purchase[out.click].mean() - 0.3) < 3.29 * np.sqrt(0.21 / out.click.sum())


def test_varied_probabilities_sum_to_expected_clicks():
    rng = np.random.default_rng(0)
    n = 100_000
    exam, attr = rng.uniform(0.2, 1, n), rng.uniform(0, 0.3, n)
    out = simulate_outcomes(3, rng.integers(0, 10**9, n), rng.integers(0, 10**5, n), rng.integers(0, 4, n), exam, attr, attr)
    p = exam * attr
    assert abs(out.click.sum() - p.sum()) < 3.29 * np.sqrt((p * (1 - p)).sum())


def test_common_random_numbers_per_factor():
    req, item, slot = np.arange(1000), np.arange(1000) % 37, np.arange(1000) % 4
    attract = attraction_uniforms(5, req, item)
    perm = np.random.default_rng(1).permutation(1000)
    # Pure functions of their keys: batch order and batch company do not matter.
    assert np.array_equal(attraction_uniforms(5, req[perm], item[perm]), attract[perm])
    assert np.array_equal(examination_uniforms(5, req[:10], slot[:10]), examination_uniforms(5, req, slot)[:10])
    # The same ad for the same request is equally attractive in any slot: moving it changes only examination.
    p = np.full(1000, 0.5)
    a = simulate_outcomes(5, req, item, slot, np.ones(1000), p, p)
    b = simulate_outcomes(5, req, item, (slot + 1) % 4, np.ones(1000), p, p)
    assert np.array_equal(a.click, b.click) and np.array_equal(a.purchase, b.purchase)
    # Other items, slots or seeds draw independently.
    for other, base in ((attraction_uniforms(5, req, item + 1), attract), (attraction_uniforms(6, req, item), attract),
                        (examination_uniforms(5, req, slot + 1), examination_uniforms(5, req, slot))):
        assert abs(np.corrcoef(base, other)[0, 1]) < 0.1 and not np.array_equal(base, other)
    assert 0 <= attract.min() and attract.max() < 1
