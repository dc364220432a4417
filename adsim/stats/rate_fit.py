"""Exchange-rate fits through the control, with intervals that count each source of noise once.

The control is the point (0, 0) by definition (no change of the intermediate metric, no lift),
so the line is fitted through it: lift = rate x change. Lifts are fitted on the log-ratio scale,
z = 100 ln(treatment / control) ("log-%"), where effects compound and a prediction can never fall
below -100 %; for lifts of a few percent z and the % lift agree. Variants scatter about that line
more the further they move, so points are weighted by 1 / |change| (WEIGHT_POWER = 1).

A variant's point carries three kinds of noise, each counted once in the slope's standard error:
- its own scatter about the line (tau2 |change|): what makes one variant unlike another, estimated
  from the residuals *net of* the measurement noise they also hold (rate_estimators.scatter_variance);
- traffic: the paired user bootstrap of every variant's lift. The variants share the control, so
  this noise is correlated across them; its full covariance enters, through the slope's gradient;
- the intermediate metric: the held-out queries resampled, the same way.
With replicated sweeps, the replicates' own slopes (traffic, held-out queries, training seeds, day-0 logs)
replace the two bootstrap parts. The interval is Student's t on Satterthwaite's degrees of freedom:
V - 1 for the scatter part, the replicates' R - 1 for theirs, many for the bootstrap parts.

Estimators (rate_estimators): `tc` corrects the attenuation that noise in the intermediate metric
causes, `york` fits errors in both coordinates, `wls` is plain weighted least squares, kept as the
reference. DEFAULT_ESTIMATOR is the one the coverage study (docs/guide/exchange-rates.md) chose.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr
from scipy.stats import t as student_t

from adsim.stats import rate_estimators as est
from adsim.stats.estimates import ExchangeRate, LiftPrediction

WEIGHT_POWER = 1.0
DEFAULT_ESTIMATOR = "tc"
MIN_VARIANTS = 5    # fewer: the report says the fit is too weak to rank metrics
MIN_R2 = 0.5
MIN_RELIABILITY = 0.5
MAX_DF = 1000.0     # degrees of freedom when no estimated part is left (strict JSON has no infinity)


def log_lift(pct: np.ndarray) -> np.ndarray:
    """% lift -> log-ratio scale, 100 ln(1 + lift / 100) (NaN at or below -100 %)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return 100.0 * np.log1p(np.where(np.asarray(pct) > -100.0, pct, np.nan) / 100.0)


MAX_LOG_LIFT = 5e4  # log-%: e^500 - 1; only a line through pure noise predicts beyond it


def pct_lift(z):
    """log-ratio scale -> % lift (clipped at MAX_LOG_LIFT so that an absurd prediction stays a finite number)."""
    return 100.0 * np.expm1(np.minimum(np.asarray(z, np.float64), MAX_LOG_LIFT) / 100.0)


def _cov(draws: np.ndarray | None, V: int) -> np.ndarray:
    if draws is None or len(draws) < 2:
        return np.zeros((V, V))
    return np.atleast_2d(np.cov(draws, rowvar=False))


def _noise(y_boot, x_boot, V: int) -> tuple[np.ndarray, np.ndarray]:
    """The covariances across variants of the log-lifts under the traffic bootstrap (draws with a
    non-finite lift dropped) and of the changes under the held-out-query bootstrap."""
    z_boot = None if y_boot is None else log_lift(np.asarray(y_boot, np.float64))
    z_boot = None if z_boot is None else z_boot[np.isfinite(z_boot).all(1)]
    return _cov(z_boot, V), _cov(None if x_boot is None else np.asarray(x_boot, np.float64), V)


class _Fit:
    """One estimator's slope and the first-order parts of its variance on one set of points.

    The scatter tau2, the weights and the slope depend on one another: starting from weights
    1 / |x|^power, each round refits the slope, re-estimates tau2 net of measurement noise and
    reweighs the points by their whole variance (rate_estimators.precision_weights)."""

    ROUNDS = 3

    def __init__(self, x, z, cov_z, cov_x, estimator: str, power: float):
        self.x, self.z, self.cov_z, self.cov_x, self.estimator = x, z, cov_z, cov_x, estimator
        self.var_z, self.var_x = np.diag(cov_z).copy(), np.diag(cov_x).copy()
        self.shape = np.abs(x) ** power
        self.w, self.tau2 = est.weights(x, power), 0.0
        for k in range(self.ROUNDS):
            if k:
                self.w = est.precision_weights(x, power, self.tau2, self.slope, self.var_x, self.var_z)
            self.slope = float(self._slope(x, z))
            self.a = est.gradient(lambda zz: self._slope(x, zz), z, _step(z))
            self.g = est.gradient(lambda xx: self._slope(xx, z), x, _step(x))
            self.tau2 = est.scatter_variance(z - self.slope * x, self.w, self.shape, x, self.slope, self.a, self.g,
                                             cov_z, cov_x)

    def _slope(self, x, z):
        return est.slope(self.estimator, x, z, self.w, self.var_x, self.var_z, self.tau2 * self.shape)

    @property
    def se_scatter(self) -> float:
        return float(np.sqrt(self.tau2 * (self.a ** 2 * self.shape).sum()))

    @property
    def se_traffic(self) -> float:
        return float(np.sqrt(max(self.a @ self.cov_z @ self.a, 0.0)))

    @property
    def se_intermediate(self) -> float:
        return float(np.sqrt(max(self.g @ self.cov_x @ self.g, 0.0)))


def _step(v: np.ndarray) -> float:
    return 1e-5 * max(float(np.abs(v).max()), 1e-6)


def _satterthwaite(parts: list[tuple[float, float]]) -> float:
    """Degrees of freedom of a sum of variances, each (variance, its df)."""
    total = sum(v for v, _ in parts)
    spread = sum(v * v / df for v, df in parts if v > 0 and np.isfinite(df))
    return float(min(MAX_DF, total * total / spread)) if spread > 0 else MAX_DF


def _interval(centre: float, se: float, df: float, level: float) -> tuple[float, float]:
    half = float(student_t.ppf((1 + level) / 2, df)) * se
    return centre - half, centre + half


def prediction_interval(rate: ExchangeRate, change: float, level: float = 0.95, own_var: float = 0.0) -> tuple[float, float, float]:
    """Expected % lift of a new variant that moves the metric by `change`, and its prediction interval:
    the slope's uncertainty times the change plus a new variant's scatter about the line (plus
    `own_var`, the noise of a measured point, on the log scale), transformed back from the log scale."""
    z = rate.slope * change
    var = change ** 2 * rate.se ** 2 + rate.scatter_scale ** 2 * abs(change) ** rate.weight_power + own_var
    lo, hi = _interval(z, float(np.sqrt(var)), rate.df, level)
    return float(pct_lift(z)), float(pct_lift(lo)), float(pct_lift(hi))


def _rate(fit: _Fit, y_pct, level, power, n: int, loo=(np.nan, np.nan, ()), se_rep: float = 0.0, n_rep: int = 1,
          families: dict[str, float] | None = None) -> ExchangeRate:
    x, z = fit.x, fit.z
    bootstrap = fit.se_traffic ** 2 + fit.se_intermediate ** 2
    measured = (se_rep ** 2, max(n_rep - 1, 1)) if n_rep > 1 else (bootstrap, np.inf)
    parts = [(fit.se_scatter ** 2, n - 1), measured]
    se = float(np.sqrt(sum(v for v, _ in parts)))
    df = _satterthwaite(parts)
    lo, hi = _interval(fit.slope, se, df, level)
    ss_tot = ((z - z.mean()) ** 2).sum()
    r2 = 1 - ((z - fit.slope * x) ** 2).sum() / ss_tot if ss_tot > 0 else float("nan")
    rho = spearmanr(x, y_pct).statistic if np.ptp(x) > 0 and np.ptp(y_pct) > 0 else float("nan")
    return ExchangeRate(
        estimator=fit.estimator, slope=fit.slope, ci_low=lo, ci_high=hi, se=se, se_scatter=fit.se_scatter,
        se_traffic=fit.se_traffic, se_intermediate=fit.se_intermediate, se_replicates=se_rep, n_replicates=n_rep,
        scatter_scale=float(np.sqrt(fit.tau2)), weight_power=power, df=df, r2=float(r2), spearman=float(rho),
        reliability=float(est.reliability(x, fit.w, fit.var_x)),
        lift_reliability=float(1 - (fit.w * fit.var_z).sum() / (fit.w * z * z).sum()) if (fit.w * z * z).sum() > 0 else float("nan"),
        loo_rmse=loo[0], loo_coverage=loo[1], loo_errors=tuple(loo[2]), family_coverage=dict(families or {}), n_variants=n,
        change_min=float(min(x.min(), 0.0)), change_max=float(max(x.max(), 0.0)))


def _held_out(x, z, y_pct, cov_z, cov_x, groups: list[np.ndarray], estimator, power, level) -> tuple[list[float], list[bool]]:
    """Each group of variants held out in turn, each of its members' lifts predicted by the line
    fitted to the rest: the errors (% points) and whether each lies inside its prediction interval
    (which adds the held-out point's own measurement noise). Groups whose rest cannot fit a line
    (fewer than 2 variants, or none that moves the metric) are skipped."""
    errors, inside = [], []
    for held in groups:
        rest = np.ones(len(x), bool)
        rest[held] = False
        if rest.sum() < 2 or not np.any(x[rest]):
            continue
        fit = _Fit(x[rest], z[rest], cov_z[np.ix_(rest, rest)], cov_x[np.ix_(rest, rest)], estimator, power)
        rate = _rate(fit, y_pct[rest], level, power, int(rest.sum()))
        for v in held:
            lift, lo, hi = prediction_interval(rate, x[v], level, cov_z[v, v] + rate.slope ** 2 * cov_x[v, v])
            errors.append(lift - y_pct[v])
            inside.append(lo <= y_pct[v] <= hi)
    return errors, inside


def _loo(x, z, y_pct, cov_z, cov_x, estimator, power, level) -> tuple[float, float, tuple[float, ...]]:
    """Leave-one-variant-out: the RMSE of the held-out predictions (% points), the share inside
    their prediction interval, and the errors themselves."""
    if len(x) < 3:
        return float("nan"), float("nan"), ()
    errors, inside = _held_out(x, z, y_pct, cov_z, cov_x, [np.array([v]) for v in range(len(x))], estimator, power, level)
    if not errors:
        return float("nan"), float("nan"), ()
    with np.errstate(over="ignore"):  # a line through pure noise can predict absurd lifts: an infinite error
        rmse = float(np.sqrt(np.mean(np.square(errors))))
    return rmse, float(np.mean(inside)), tuple(float(e) for e in errors)


def _family_coverage(x, z, y_pct, cov_z, cov_x, families: dict[str, list[int]], estimator, power, level) -> dict[str, float]:
    """Family -> the share of its members inside their prediction interval when the line is fitted
    without the whole family: can the other families' line predict a new kind of model?"""
    out = {}
    for name, members in families.items():
        _, inside = _held_out(x, z, y_pct, cov_z, cov_x, [np.asarray(members, int)], estimator, power, level)
        if inside:
            out[name] = float(np.mean(inside))
    return out


def held_out_prediction(x, y, y_boot, x_boot, v: int, power: float = WEIGHT_POWER, level: float = 0.95,
                        estimator: str = DEFAULT_ESTIMATOR) -> tuple[float, float, float]:
    """Variant `v`'s predicted % lift and prediction interval (its own measurement noise included)
    from the line fitted without it."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    rest = np.arange(len(x)) != v
    cov_z, cov_x = _noise(y_boot, x_boot, len(x))
    fit = _Fit(x[rest], log_lift(y[rest]), cov_z[np.ix_(rest, rest)], cov_x[np.ix_(rest, rest)], estimator, power)
    rate = _rate(fit, y[rest], level, power, int(rest.sum()))
    return prediction_interval(rate, x[v], level, cov_z[v, v] + rate.slope ** 2 * cov_x[v, v])


def fit_exchange_rate(x: np.ndarray, y: np.ndarray, y_boot: np.ndarray | None = None, x_boot: np.ndarray | None = None,
                      level: float = 0.95, power: float = WEIGHT_POWER, replicate_slopes: list[float] | None = None,
                      estimator: str = DEFAULT_ESTIMATOR, loo: bool = True,
                      families: dict[str, list[int]] | None = None) -> ExchangeRate:
    """x, y: (V,) per variant (change over the control, % lift); y_boot: (B, V) % lifts under the
    traffic bootstrap; x_boot: (B', V) changes under the held-out-query bootstrap;
    replicate_slopes: each replicate's own slope when x, y average R replicates; families: name ->
    the indices of its members, each family held out in turn (with `loo`)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 2:
        raise ValueError(f"need matching (V,) changes and lifts with V >= 2, got {x.shape} and {y.shape}")
    if not np.any(x):
        raise ValueError("no variant changes the intermediate metric: the rate is undefined")
    if estimator not in est.ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r} (one of {', '.join(est.ESTIMATORS)})")
    z = log_lift(y)
    if not np.isfinite(z).all():
        raise ValueError("a lift of -100 % or less (or not finite) has no log ratio: the arm lost every outcome")
    cov_z, cov_x = _noise(y_boot, x_boot, len(x))
    reps = np.asarray(replicate_slopes if replicate_slopes is not None else [], np.float64)
    se_rep = float(np.std(reps, ddof=1) / np.sqrt(len(reps))) if len(reps) > 1 else 0.0
    held_out = _loo(x, z, y, cov_z, cov_x, estimator, power, level) if loo else (np.nan, np.nan, ())
    fam = _family_coverage(x, z, y, cov_z, cov_x, families, estimator, power, level) if loo and families else {}
    return _rate(_Fit(x, z, cov_z, cov_x, estimator, power), y, level, power, len(x), held_out, se_rep, max(len(reps), 1),
                 fam)


def weak_fit_reason(rate: ExchangeRate) -> str | None:
    """Why a fit is too weak to rank intermediate metrics by, or None."""
    if rate.n_variants < MIN_VARIANTS:
        return f"only {rate.n_variants} variants (at least {MIN_VARIANTS} to rank metrics)"
    if not np.isfinite(rate.r2) or rate.r2 < MIN_R2:
        return f"R² {rate.r2:.2f} < {MIN_R2}"
    if not np.isfinite(rate.reliability) or rate.reliability < MIN_RELIABILITY:
        return f"only {rate.reliability:.0%} of the metric's spread across variants is signal (< {MIN_RELIABILITY:.0%})"
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
