"""Pure analysis functions: exchange-rate fits, power laws, power/MDE, and the HTML renderer."""

import numpy as np
import pytest

from adsim.experiments.exchange import fit_exchange_rate, rank_intermediates
from adsim.experiments.scaling import fit_power_law


def test_exchange_rate_recovers_a_known_slope():
    rng = np.random.default_rng(0)
    x = np.array([-20.0, -5, 0, 10, 25, 40, 55])
    y = 0.8 * x + 2 + rng.normal(0, 1.0, len(x))
    y_boot = y[None] + rng.normal(0, 1.0, (400, len(x)))
    r = fit_exchange_rate(x, y, y_boot)
    assert r.ci_low < 0.8 < r.ci_high and abs(r.slope - 0.8) < 0.05
    assert r.r2 > 0.99 and r.spearman == pytest.approx(1.0) and r.loo_rmse < 2.5
    noise = fit_exchange_rate(x, rng.normal(0, 10, len(x)), rng.normal(0, 10, (400, len(x))))
    assert noise.r2 < 0.8 and noise.ci_low < 0 < noise.ci_high
    ranked = rank_intermediates({"good": {"ctr": r}, "noise": {"ctr": noise}}, "ctr")
    assert [row.intermediate for row in ranked] == ["good", "noise"]


def test_power_law_fit_recovers_exponent():
    x = np.array([1.0, 2, 4, 8, 16, 32])
    growing = fit_power_law(x, 0.3 * x ** 0.5 + 0.1)
    saturating = fit_power_law(x, 0.9 - 0.4 * x ** -0.7)
    assert growing.ok and growing.b == pytest.approx(0.5, abs=0.02) and growing.r2 > 0.999
    assert saturating.ok and saturating.b == pytest.approx(-0.7, abs=0.05) and saturating(np.array([1e6]))[0] == pytest.approx(0.9, abs=0.01)
