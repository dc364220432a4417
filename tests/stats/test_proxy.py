"""Which metric to watch: the composite proxy against the best single metric (both nested), and how
the rate's interval narrows with the number of variants."""

import numpy as np
import pytest

from adsim.stats.proxy import composite_proxy, variants_needed
from adsim.stats.rate_fit import pct_lift


def _two_part_sweep(rng, V=40):
    """Lifts driven by two things, each seen by one metric only: no single metric explains them."""
    a, b = rng.uniform(0, 10, V), rng.uniform(0, 10, V)
    z = 1.0 * a + 1.0 * b + rng.normal(0, 0.3, V)
    x = {"sees_a": a + rng.normal(0, 0.1, V), "sees_b": b + rng.normal(0, 0.1, V), "noise": rng.normal(0, 5, V)}
    return x, pct_lift(z)


def test_composite_beats_the_best_single_metric_when_no_one_metric_explains_the_lifts():
    x, y = _two_part_sweep(np.random.default_rng(0))
    c = composite_proxy(x, y, ["sees_a", "sees_b", "noise"])
    assert c.loo_rmse < 0.5 * c.single_loo_rmse
    w = dict(zip(c.metrics, c.weights))
    assert w["sees_a"] == pytest.approx(1.0, abs=0.15) and w["sees_b"] == pytest.approx(1.0, abs=0.15)
    assert abs(w["noise"]) < 0.1
    assert sum(c.single_picks.values()) == len(y)


def test_composite_does_not_beat_one_metric_that_explains_everything():
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 10, 30)
    x = {"good": a + rng.normal(0, 0.05, 30), "junk": rng.normal(0, 3, 30)}
    y = pct_lift(0.8 * a + rng.normal(0, 0.2, 30))
    c = composite_proxy(x, y, ["good", "junk"])
    assert c.single_picks == {"good": 30}
    assert c.loo_rmse == pytest.approx(c.single_loo_rmse, rel=0.5)


def test_too_few_variants_or_metrics_give_no_composite():
    x, y = _two_part_sweep(np.random.default_rng(2), V=4)
    assert composite_proxy(x, y, ["sees_a", "sees_b"]) is None
    x, y = _two_part_sweep(np.random.default_rng(2))
    assert composite_proxy(x, y, ["sees_a"]) is None


def test_the_interval_narrows_as_variants_are_added():
    rng = np.random.default_rng(3)
    V = 60
    x = rng.uniform(0, 10, V)
    z = 0.8 * x + rng.normal(0, 0.5, V) * np.sqrt(x)
    rows = variants_needed(x, pct_lift(z), None, None, "tc", seed=0, n_subsets=10)
    assert [r.n_variants for r in rows] == [5, 8, 12, 20, 35, 50, 60]
    widths = [r.half_width for r in rows]
    assert all(a > b for a, b in zip(widths, widths[1:]))
    assert rows[-1].relative == pytest.approx(rows[-1].half_width / 0.8, rel=0.1)
