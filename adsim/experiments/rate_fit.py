"""Exchange-rate fits through the control, with intervals that carry every source of noise.

The control is the point (0, 0) by definition (no change of the intermediate metric, no lift),
so the line is fitted through it: lift = rate x change. Variants scatter about that line more the
further they move, so the fit is weighted least squares with residual variance proportional to
|change| (WEIGHT_POWER = 1; 0 would be ordinary least squares): a variant that barely moves the
metric barely moves the lift, and prediction intervals shrink to zero at no change.

The slope's standard error adds three independent parts, in quadrature:
- lack of fit: the weighted residuals' scatter about the line (the t-interval the points imply);
- traffic: the paired user bootstrap of every variant's lift, refitted per draw; the variants
  share the control, so this part is correlated across them and the residuals cannot see it;
- the intermediate metric: the benchmark queries resampled, refitted per draw.
The residuals already contain each lift's own traffic noise, so the sum is conservative; the
coverage studies (adsim validate) measure how conservative. A sweep run with replicates fits the
replicates' averaged points and adds a fourth part, the spread of the replicates' own slopes over
sqrt(R) (training seeds, day-0 logs, labels: what the bootstraps cannot see). Intervals use Student's t with
V - 1 degrees of freedom (one slope fitted from V variants).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr
from scipy.stats import t as student_t

from adsim.reports.exchange_report import ExchangeRate, LiftPrediction

WEIGHT_POWER = 1.0
MIN_VARIANTS = 5    # fewer: the report says the fit is too weak to rank metrics
MIN_R2 = 0.5


def _weights(x: np.ndarray, power: float) -> np.ndarray:
    """WLS weights 1 / |x|^power; a variant that does not move the metric gets the largest finite weight."""
    ax = np.abs(x)
    floor = max(ax[ax > 0].min() if (ax > 0).any() else 1.0, 1e-9)
    return 1.0 / np.maximum(ax, floor) ** power


def origin_slope(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted least-squares slope through the origin, vectorised over leading axes of x and y
    (NaN for a draw in which no variant moves the metric)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (w * x * y).sum(-1) / (w * x * x).sum(-1)


def _spread(draws: np.ndarray) -> float:
    draws = draws[np.isfinite(draws)]
    return float(np.std(draws, ddof=1)) if len(draws) > 1 else 0.0


def _core(x, y, y_boot, x_boot, power):
    """Slope, its noise components, the residual scale and degrees of freedom."""
    w = _weights(x, power)
    slope = float(origin_slope(x, y, w))
    resid = y - slope * x
    df = len(x) - 1
    scale2 = float((w * resid ** 2).sum() / df)
    se_fit = float(np.sqrt(scale2 / (w * x * x).sum()))
    se_traffic = _spread(origin_slope(x, y_boot, w)) if y_boot is not None else 0.0
    se_x = _spread(origin_slope(x_boot, y, w)) if x_boot is not None else 0.0
    return slope, se_fit, se_traffic, se_x, np.sqrt(scale2), df


def _interval(centre: float, se: float, df: int, level: float) -> tuple[float, float]:
    half = float(student_t.ppf((1 + level) / 2, df)) * se
    return centre - half, centre + half


def prediction_interval(rate: ExchangeRate, change: float, level: float = 0.95) -> tuple[float, float, float]:
    """Expected lift of a new variant that moves the metric by `change`, and its prediction interval:
    the slope's uncertainty times the change plus the scatter of a new variant about the line."""
    lift = rate.slope * change
    var = change ** 2 * rate.se ** 2 + rate.residual_scale ** 2 * abs(change) ** rate.weight_power
    return (lift, *_interval(lift, float(np.sqrt(var)), rate.df, level))


def held_out_prediction(x, y, y_boot, x_boot, v: int, power: float = WEIGHT_POWER,
                        level: float = 0.95) -> tuple[float, float, float]:
    """Variant `v`'s predicted lift and prediction interval from the line fitted without it."""
    rest = np.arange(len(x)) != v
    if y_boot is not None:
        y_boot = y_boot[:, rest]
        y_boot = y_boot[np.isfinite(y_boot).all(1)]
    part = _fit(x[rest], y[rest], y_boot, None if x_boot is None else x_boot[:, rest], power, level)
    return prediction_interval(part, x[v], level)


def _loo(x, y, y_boot, x_boot, power, level) -> tuple[float, float]:
    """Leave-one-variant-out: RMSE of the held-out lift's prediction, and the share of held-out
    variants inside their prediction interval."""
    errors, inside = [], []
    for v in range(len(x)):
        if len(x) < 3 or not np.any(x[np.arange(len(x)) != v]):
            continue
        lift, lo, hi = held_out_prediction(x, y, y_boot, x_boot, v, power, level)
        errors.append(lift - y[v])
        inside.append(lo <= y[v] <= hi)
    if not errors:
        return float("nan"), float("nan")
    return float(np.sqrt(np.mean(np.square(errors)))), float(np.mean(inside))


def _fit(x, y, y_boot, x_boot, power, level, loo: tuple[float, float] = (np.nan, np.nan), se_rep: float = 0.0,
         n_rep: int = 1) -> ExchangeRate:
    slope, se_fit, se_traffic, se_x, scale, df = _core(x, y, y_boot, x_boot, power)
    se = float(np.sqrt(se_fit ** 2 + se_traffic ** 2 + se_x ** 2 + se_rep ** 2))
    lo, hi = _interval(slope, se, df, level)
    ss_tot = ((y - y.mean()) ** 2).sum()
    r2 = 1 - ((y - slope * x) ** 2).sum() / ss_tot if ss_tot > 0 else float("nan")
    rho = spearmanr(x, y).statistic if np.ptp(x) > 0 and np.ptp(y) > 0 else float("nan")
    return ExchangeRate(slope=slope, ci_low=lo, ci_high=hi, se=se, se_fit=se_fit, se_traffic=se_traffic,
                        se_intermediate=se_x, se_replicates=se_rep, n_replicates=n_rep, residual_scale=float(scale), weight_power=power, df=df, r2=float(r2),
                        spearman=float(rho), loo_rmse=loo[0], loo_coverage=loo[1], n_variants=len(x),
                        change_min=float(min(x.min(), 0.0)), change_max=float(max(x.max(), 0.0)))


def fit_exchange_rate(x: np.ndarray, y: np.ndarray, y_boot: np.ndarray | None = None, x_boot: np.ndarray | None = None,
                      level: float = 0.95, power: float = WEIGHT_POWER, replicate_slopes: list[float] | None = None) -> ExchangeRate:
    """x, y: (V,) per variant (change over the control, lift in %); y_boot: (B, V) lifts under the
    traffic bootstrap; x_boot: (B', V) changes under the benchmark-query bootstrap;
    replicate_slopes: each replicate's own slope when x, y average R replicates."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 2:
        raise ValueError(f"need matching (V,) changes and lifts with V >= 2, got {x.shape} and {y.shape}")
    if not np.any(x):
        raise ValueError("no variant changes the intermediate metric: the rate is undefined")
    y_boot = None if y_boot is None else np.asarray(y_boot, np.float64)[np.isfinite(y_boot).all(1)]
    x_boot = None if x_boot is None else np.asarray(x_boot, np.float64)
    reps = np.asarray(replicate_slopes if replicate_slopes is not None else [], np.float64)
    se_rep = float(np.std(reps, ddof=1) / np.sqrt(len(reps))) if len(reps) > 1 else 0.0
    return _fit(x, y, y_boot, x_boot, power, level, _loo(x, y, y_boot, x_boot, power, level), se_rep, max(len(reps), 1))


def weak_fit_reason(rate: ExchangeRate) -> str | None:
    """Why a fit is too weak to rank intermediate metrics by, or None."""
    if rate.n_variants < MIN_VARIANTS:
        return f"only {rate.n_variants} variants (at least {MIN_VARIANTS} to rank metrics)"
    if not np.isfinite(rate.r2) or rate.r2 < MIN_R2:
        return f"R² {rate.r2:.2f} < {MIN_R2}"
    return None


def predict(rate: ExchangeRate, intermediate: str, downstream: str, change: float, level: float = 0.95) -> LiftPrediction:
    """The lift a new model that moves `intermediate` by `change` should expect, with its interval;
    flagged when `change` lies outside the changes the sweep measured."""
    lift, lo, hi = prediction_interval(rate, change, level)
    outside = not (rate.change_min <= change <= rate.change_max)
    note = (f"{change:+g} lies outside the swept range [{rate.change_min:+g}, {rate.change_max:+g}]: "
            "an extrapolation, trust it less" if outside else None)
    return LiftPrediction(intermediate=intermediate, downstream=downstream, change=change, lift=lift, pi_low=lo, pi_high=hi,
                          level=level, extrapolated=outside, warning=note)
