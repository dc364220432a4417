"""Pure analysis functions: exchange-rate fits, power laws, power/MDE, and the HTML renderer."""

import numpy as np
import pytest
from scipy.stats import t as student_t

from adsim.experiments.exchange import rank_intermediates
from adsim.experiments.rate_fit import fit_exchange_rate, predict, prediction_interval
from adsim.experiments.scaling import fit_power_law


def test_exchange_rate_recovers_a_known_slope_through_the_control():
    rng = np.random.default_rng(0)
    x = np.array([-20.0, -5, 3, 10, 25, 40, 55])
    y = 0.8 * x + rng.normal(0, 1.0, len(x)) * np.sqrt(np.abs(x)) * 0.2
    y_boot = y[None] + rng.normal(0, 1.0, (400, len(x)))
    r = fit_exchange_rate(x, y, y_boot)
    assert r.ci_low < 0.8 < r.ci_high and abs(r.slope - 0.8) < 0.05
    assert r.r2 > 0.99 and r.spearman == pytest.approx(1.0) and r.loo_rmse < 2.5
    assert prediction_interval(r, 0.0) == (0.0, 0.0, 0.0)  # no change, no lift: the control
    noise = fit_exchange_rate(x, rng.normal(0, 10, len(x)), rng.normal(0, 10, (400, len(x))))
    assert noise.r2 < 0.8 and noise.ci_low < 0 < noise.ci_high
    ranked = rank_intermediates({"good": {"ctr": r}, "noise": {"ctr": noise}}, "ctr")
    assert [row.intermediate for row in ranked] == ["good", "noise"]


@pytest.mark.parametrize("power", [0.0, 1.0])
def test_slope_ci_is_never_narrower_than_the_t_interval_of_its_points(power):
    """Scattered points whose bootstrap draws do not move: the CI is still the t-interval the
    points imply (weighted least squares through the control), not zero width."""
    x = np.array([4.0, 9, 15, 22, 30])
    y = np.array([5.0, 21, 14, 40, 29])
    frozen = np.tile(y, (300, 1))
    r = fit_exchange_rate(x, y, frozen, np.tile(x, (300, 1)), power=power)
    w = 1 / np.abs(x) ** power
    slope = (w * x * y).sum() / (w * x * x).sum()
    s2 = (w * (y - slope * x) ** 2).sum() / (len(x) - 1)
    half = student_t.ppf(0.975, len(x) - 1) * np.sqrt(s2 / (w * x * x).sum())
    assert r.slope == pytest.approx(slope)
    assert r.se_traffic == pytest.approx(0, abs=1e-12) and r.se_intermediate == pytest.approx(0, abs=1e-12)
    assert r.ci_low == pytest.approx(slope - half) and r.ci_high == pytest.approx(slope + half)
    assert r.ci_high - r.ci_low > 0.5 * slope  # the scatter shows in the width
    moving = fit_exchange_rate(x, y, frozen + np.random.default_rng(1).normal(0, 3, frozen.shape))
    assert moving.ci_high - moving.ci_low > r.ci_high - r.ci_low


def test_intervals_cover_at_their_level_on_simulated_sweeps():
    """Sweeps drawn from the model the fit assumes: the slope CI covers the true rate and the
    leave-one-out prediction intervals cover held-out variants about 95 % of the time."""
    rng = np.random.default_rng(5)
    covered, loo = [], []
    for _ in range(300):
        x = rng.uniform(-10, 50, 7)
        traffic = rng.normal(0, 1.0, 7)          # each lift's measurement noise, known to the bootstrap
        y = 0.6 * x + rng.normal(0, 1.5, 7) * np.sqrt(np.abs(x)) + traffic
        y_boot = y[None] + rng.normal(0, 1.0, (200, 7))
        r = fit_exchange_rate(x, y, y_boot)
        covered.append(r.ci_low <= 0.6 <= r.ci_high)
        loo.append(r.loo_coverage)
    assert 0.93 <= np.mean(covered) <= 1.0
    assert 0.88 <= np.mean(loo) <= 1.0


def test_prediction_widens_with_the_change_and_warns_outside_the_sweep():
    x = np.array([5.0, 10, 20, 30])
    r = fit_exchange_rate(x, 0.5 * x + np.array([1.0, -1.5, 2.0, -1.0]))
    inside, far = predict(r, "m", "ctr", 15.0), predict(r, "m", "ctr", 60.0)
    assert inside.pi_low < inside.lift < inside.pi_high and not inside.extrapolated and inside.warning is None
    assert far.pi_high - far.pi_low > 2 * (inside.pi_high - inside.pi_low)
    assert far.extrapolated and "outside the swept range" in far.warning
    assert predict(r, "m", "ctr", -3.0).extrapolated  # below the control, never swept


@pytest.mark.parametrize("x, y, match", [
    (np.array([1.0, 2.0]), np.array([1.0]), "matching"),
    (np.zeros(4), np.arange(4.0), "no variant changes"),
    (np.array([1.0]), np.array([1.0]), "V >= 2"),
])
def test_exchange_rate_rejects_bad_points(x, y, match):
    with pytest.raises(ValueError, match=match):
        fit_exchange_rate(x, y)


def test_power_law_fit_recovers_exponent():
    x = np.array([1.0, 2, 4, 8, 16, 32])
    growing = fit_power_law(x, 0.3 * x ** 0.5 + 0.1)
    saturating = fit_power_law(x, 0.9 - 0.4 * x ** -0.7)
    assert growing.ok and growing.b == pytest.approx(0.5, abs=0.02) and growing.r2 > 0.999
    assert saturating.ok and saturating.b == pytest.approx(-0.7, abs=0.05) and saturating(np.array([1e6]))[0] == pytest.approx(0.9, abs=0.01)


def test_replicated_sweeps_average_points_and_carry_their_spread():
    from adsim.experiments.exchange import SweepPoints, averaged_points, exchange_rates
    rng = np.random.default_rng(3)
    x = np.array([5.0, 10, 20, 30, 40])

    def replicate(shift: float) -> SweepPoints:
        y = (0.5 + shift) * x + rng.normal(0, 1, 5)
        boot = y[None] + rng.normal(0, 1, (200, 5))
        return SweepPoints(variants=list("abcde"), x={"m": x + shift}, y={"ctr": y}, y_boot={"ctr": boot},
                           y_ci={"ctr": np.percentile(boot, [2.5, 97.5], axis=0)}, x_boot={"m": (x + shift)[None] + rng.normal(0, 0.1, (200, 5))})
    reps = [replicate(s) for s in (-0.1, 0.0, 0.1)]
    avg = averaged_points(reps)
    assert np.allclose(avg.x["m"], x) and np.allclose(avg.y["ctr"], np.mean([r.y["ctr"] for r in reps], axis=0))
    assert avg.y_boot["ctr"].shape == (200, 5) and avg.x_boot["m"].shape == (200, 5)
    pooled = exchange_rates(avg, reps)["m"]["ctr"]
    alone = exchange_rates(avg)["m"]["ctr"]
    assert pooled.n_replicates == 3 and pooled.se_replicates > 0 and alone.se_replicates == 0
    assert pooled.slope == alone.slope and pooled.ci_high - pooled.ci_low > alone.ci_high - alone.ci_low
