"""Pure analysis functions: exchange-rate fits, power laws, power/MDE, and the HTML renderer."""

import numpy as np
import pytest
from scipy.stats import t as student_t

from adsim.core.errors import ConfigError
from adsim.studies.exchange import loo_gap_interval, rank_intermediates
from adsim.stats.rate_fit import fit_exchange_rate, log_lift, pct_lift, predict, prediction_interval
from adsim.stats.rate_simulation import SweepModel, grade_estimators, simulated_sweep
from adsim.studies.scaling import fit_power_law


def _lifts(z):
    """% lifts whose log ratios are `z` (fits work on the log-ratio scale)."""
    return pct_lift(z)


def test_exchange_rate_recovers_a_known_slope_through_the_control():
    rng = np.random.default_rng(0)
    x = np.array([-20.0, -5, 3, 10, 25, 40, 55])
    z = 0.8 * x + rng.normal(0, 1.0, len(x)) * np.sqrt(np.abs(x)) * 0.2
    y_boot = _lifts(z[None] + rng.normal(0, 1.0, (400, len(x))))
    r = fit_exchange_rate(x, _lifts(z), y_boot)
    assert r.ci_low < 0.8 < r.ci_high and abs(r.slope - 0.8) < 0.05
    assert r.r2 > 0.99 and r.spearman == pytest.approx(1.0) and r.loo_rmse < 2.5
    assert prediction_interval(r, 0.0) == (0.0, 0.0, 0.0)  # no change, no lift: the control
    noise = fit_exchange_rate(x, rng.normal(0, 10, len(x)), rng.normal(0, 10, (400, len(x))))
    assert noise.r2 < 0.8 and noise.ci_low < 0 < noise.ci_high
    gap = lambda a, b: loo_gap_interval(a.loo_errors, b.loo_errors, 0)  # noqa: E731
    ranked = rank_intermediates({"good": {"ctr": r}, "noise": {"ctr": noise}}, "ctr")
    assert [row.intermediate for row in ranked] == ["good", "noise"]
    assert ranked[0].gap_ci_low > 0 and ranked[0].gap_to_next == pytest.approx(gap(r, noise)[0])
    assert np.isnan(ranked[1].gap_to_next)  # the last one has no runner-up


@pytest.mark.parametrize("power", [0.0, 1.0])
def test_without_measurement_noise_the_ci_is_the_t_interval_of_the_points(power):
    """Scattered points whose bootstrap draws do not move: all the spread is the variants' own, and
    the CI is the t-interval on V - 1 degrees of freedom that weighted least squares through the
    control implies (on the log-ratio scale), not zero width."""
    x = np.array([4.0, 9, 15, 22, 30])
    z = np.array([5.0, 21, 14, 40, 29])
    y = _lifts(z)
    frozen = np.tile(y, (300, 1))
    r = fit_exchange_rate(x, y, frozen, np.tile(x, (300, 1)), power=power)
    w = 1 / np.abs(x) ** power
    slope = (w * x * z).sum() / (w * x * x).sum()
    s2 = (w * (z - slope * x) ** 2).sum() / (len(x) - 1)
    half = student_t.ppf(0.975, len(x) - 1) * np.sqrt(s2 / (w * x * x).sum())
    assert r.slope == pytest.approx(slope) and r.df == pytest.approx(len(x) - 1)
    assert r.se_traffic == pytest.approx(0, abs=1e-9) and r.se_intermediate == pytest.approx(0, abs=1e-9)
    assert r.ci_low == pytest.approx(slope - half) and r.ci_high == pytest.approx(slope + half)


def test_noise_in_the_lifts_is_counted_once():
    """The same points with noisy bootstrap draws: the residuals' scatter is now partly that noise,
    so the variants' own scatter shrinks as the traffic part grows, instead of both adding up."""
    x = np.array([4.0, 9, 15, 22, 30])
    y = _lifts(np.array([5.0, 21, 14, 40, 29]))
    quiet = fit_exchange_rate(x, y, np.tile(y, (300, 1)))
    noisy = fit_exchange_rate(x, y, _lifts(log_lift(y)[None] + np.random.default_rng(1).normal(0, 4, (2000, 5))))
    assert noisy.se_traffic > 0 and noisy.se_scatter < quiet.se_scatter
    assert noisy.se < quiet.se + noisy.se_traffic  # not the sum of both
    assert noisy.se == pytest.approx(np.hypot(noisy.se_scatter, noisy.se_traffic))


def _simulated_sweep(rng, V=12):
    return simulated_sweep(rng, SweepModel(n_variants=V))


def test_total_covariance_recovers_the_slope_that_noisy_changes_attenuate():
    """Over simulated sweeps whose intermediate metric is measured with noise, weighted least squares
    is biased towards zero; the total-covariance slope is not, and its standard error matches the
    slopes' actual spread."""
    rng = np.random.default_rng(11)
    slopes = {"wls": [], "tc": []}
    ses = []
    for _ in range(150):
        sweep = _simulated_sweep(rng)
        for e in slopes:
            r = fit_exchange_rate(*sweep, estimator=e, loo=False)
            slopes[e].append(r.slope)
            if e == "tc":
                ses.append(r.se)
    wls, tc = np.array(slopes["wls"]), np.array(slopes["tc"])
    assert wls.mean() < 0.8 - 3 * wls.std() / np.sqrt(len(wls))  # attenuated
    assert abs(tc.mean() - 0.8) < 3 * tc.std() / np.sqrt(len(tc))
    assert 0.8 < np.mean(ses) / tc.std() < 1.25


@pytest.mark.parametrize("estimator", ["tc", "york"])
def test_intervals_cover_at_their_level_on_simulated_sweeps(estimator):
    """Sweeps drawn from the model the fit assumes: the slope CI covers the true rate and the
    leave-one-out prediction intervals cover held-out variants about 95 % of the time."""
    rng = np.random.default_rng(5)
    covered, loo = [], []
    for k in range(200):
        r = fit_exchange_rate(*_simulated_sweep(rng, V=8), estimator=estimator, loo=k < 60)
        covered.append(r.ci_low <= 0.8 <= r.ci_high)
        loo.append(r.loo_coverage)
    assert 0.90 <= np.mean(covered) <= 0.99
    assert 0.88 <= np.nanmean(loo) <= 0.99


def test_predictions_stay_above_minus_100_percent():
    """The log-ratio scale: however wide the interval, a lift cannot fall below -100 %."""
    x = np.array([5.0, 10, 20, 30])
    r = fit_exchange_rate(x, np.array([-30.0, -45, -70, -80]))
    lift, lo, hi = prediction_interval(r, 60.0)
    assert -100 < lo < lift < hi and lift < -90


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
    from adsim.studies.exchange import SweepPoints, averaged_points, exchange_rates
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
    assert pooled.slope == alone.slope
    # the replicates' spread carries traffic and intermediate-metric noise (and training's): it replaces the bootstrap parts
    assert pooled.se == pytest.approx(np.hypot(pooled.se_scatter, pooled.se_replicates))


def test_the_estimators_study_grades_each_estimator_on_the_same_sweeps():
    grades = grade_estimators(SweepModel(n_variants=8), n_sweeps=40, seed=3)
    assert set(grades) == {"tc", "york", "wls"}
    assert grades["wls"].mean_slope < grades["tc"].mean_slope  # the attenuation tc corrects
    assert all(0 <= g.coverage <= 1 and g.mean_se > 0 for g in grades.values())
    with pytest.raises(ConfigError, match="--sweeps >= 10"):
        grade_estimators(SweepModel(), n_sweeps=5)


def test_a_held_out_family_is_predicted_by_the_other_families_line():
    """Two families on one line: each, held out whole, falls inside the other's prediction
    intervals; a family off the line (a different kind of model) does not."""
    rng = np.random.default_rng(3)
    x = np.array([2.0, 5, 8, 11, 3, 6, 9, 12])
    z = 0.8 * x + rng.normal(0, 0.3, len(x)) * np.sqrt(x)
    boot = _lifts(z[None] + rng.normal(0, 0.5, (300, len(x))))
    families = {"a": [0, 1, 2, 3], "b": [4, 5, 6, 7]}
    on_line = fit_exchange_rate(x, _lifts(z), boot, families=families)
    assert set(on_line.family_coverage) == {"a", "b"} and min(on_line.family_coverage.values()) >= 0.75
    off = z.copy()
    off[4:] += 3 * x[4:]  # family b buys four times the lift per point
    shifted = fit_exchange_rate(x, _lifts(off), _lifts(off[None] + rng.normal(0, 0.5, (300, len(x)))), families=families)
    assert shifted.family_coverage["b"] <= 0.25
    assert fit_exchange_rate(x, _lifts(z), boot, families=families, loo=False).family_coverage == {}
