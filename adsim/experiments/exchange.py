"""Exchange rates: how much downstream lift one point of an intermediate metric buys.

Every variant is an arm served against the same control on the same traffic. For each pair
(intermediate metric I, downstream metric D) the variants give points (x = change of I over the
control, in points for rates, y = relative lift of D in %); an ordinary least-squares line through
them gives the exchange rate (slope, % lift per point). Its 95 % CI comes from the paired user
bootstrap: each resample recomputes every variant's lift and refits the line. Fit quality: R²,
Spearman ρ, and the leave-one-variant-out prediction error, which ranks intermediate metrics by
how well they predict downstream gains. The CI covers traffic noise, not the noise of the
intermediate metric itself (its held-out query set is fixed per seed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import spearmanr

from adsim.core.vocab import in_points
from adsim.experiments.arm import ArmOutcome
from adsim.experiments.stats import bootstrap_weights, resampled
from adsim.reports.exchange_report import ExchangeRate, RankedIntermediate


def ols(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slope and intercept of y on x, vectorised over leading axes of y: (..., V) -> (...,)."""
    xc = x - x.mean()
    slope = (y * xc).sum(-1) / (xc ** 2).sum()
    return slope, y.mean(-1) - slope * x.mean()


def fit_exchange_rate(x: np.ndarray, y: np.ndarray, y_boot: np.ndarray, level: float = 0.95) -> ExchangeRate:
    """x, y: (V,) per variant; y_boot: (B, V) lifts under each bootstrap resample."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    slope, intercept = ols(x, y)
    pred = intercept + slope * x
    ss_tot = ((y - y.mean()) ** 2).sum()
    r2 = 1 - ((y - pred) ** 2).sum() / ss_tot if ss_tot > 0 else float("nan")
    ok = np.isfinite(y_boot).all(1)
    boot_slope, _ = ols(x, y_boot[ok])
    lo, hi = np.percentile(boot_slope, [(1 - level) / 2 * 100, (1 + level) / 2 * 100]) if ok.any() else (np.nan, np.nan)
    errors = []
    for v in range(len(x)):
        rest = np.arange(len(x)) != v
        if np.ptp(x[rest]) == 0:
            continue
        s, i = ols(x[rest], y[rest])
        errors.append(i + s * x[v] - y[v])
    rho = spearmanr(x, y).statistic if np.ptp(x) > 0 and np.ptp(y) > 0 else float("nan")
    return ExchangeRate(slope=float(slope), ci_low=float(lo), ci_high=float(hi), intercept=float(intercept),
                        r2=float(r2), spearman=float(rho), loo_rmse=float(np.sqrt(np.mean(np.square(errors)))) if errors else float("nan"),
                        n_variants=len(x))


def shared_intermediates(outcomes: dict[str, ArmOutcome]) -> list[str]:
    """Intermediate metrics every arm has, finite, and varying across arms."""
    names = set.intersection(*(set(o.intermediate) for o in outcomes.values()))
    keep = []
    for n in sorted(names):
        values = np.array([o.intermediate[n] for o in outcomes.values()], dtype=np.float64)
        if np.isfinite(values).all() and np.ptp(values) > 1e-9:
            keep.append(n)
    return keep


@dataclass(frozen=True)
class SweepPoints:
    """Per-variant coordinates: intermediate changes, downstream lifts, and their bootstrap draws."""

    variants: list[str]
    x: dict[str, np.ndarray]          # intermediate -> (V,) change over control
    y: dict[str, np.ndarray]          # downstream -> (V,) relative lift in %
    y_boot: dict[str, np.ndarray]     # downstream -> (B, V)
    y_ci: dict[str, np.ndarray]       # downstream -> (2, V) percentile CI of each lift


def sweep_points(control: ArmOutcome, variants: dict[str, ArmOutcome], intermediates: list[str],
                 downstream: tuple[str, ...], seed: int, n_boot: int) -> SweepPoints:
    names = list(variants)
    scale = lambda n: 100.0 if in_points(n) else 1.0
    x = {i: np.array([(variants[v].intermediate[i] - control.intermediate[i]) * scale(i) for v in names]) for i in intermediates}
    weights = bootstrap_weights(seed, control.sums.n_users, n_boot)
    y, y_boot, y_ci = {}, {}, {}
    for d in downstream:
        c, cb = control.sums.overall[d].value(), resampled(control.sums.overall[d], weights)
        y[d] = np.array([(variants[v].sums.overall[d].value() / c - 1) * 100 for v in names])
        with np.errstate(divide="ignore", invalid="ignore"):
            y_boot[d] = np.stack([(resampled(variants[v].sums.overall[d], weights) / cb - 1) * 100 for v in names], 1)
        y_ci[d] = np.nanpercentile(y_boot[d], [2.5, 97.5], axis=0)
    return SweepPoints(variants=names, x=x, y=y, y_boot=y_boot, y_ci=y_ci)


def exchange_rates(points: SweepPoints) -> dict[str, dict[str, ExchangeRate]]:
    """exchange_rates[intermediate][downstream]."""
    return {i: {d: fit_exchange_rate(points.x[i], points.y[d], points.y_boot[d]) for d in points.y} for i in points.x}


def rank_intermediates(rates: dict[str, dict[str, ExchangeRate]], downstream: str) -> list[RankedIntermediate]:
    """Intermediate metrics ordered by how well they predict `downstream` (leave-one-out error, then R²)."""
    rows = [RankedIntermediate.of(i, r[downstream]) for i, r in rates.items()]
    return sorted(rows, key=lambda r: (np.nan_to_num(r.loo_rmse, nan=np.inf), -np.nan_to_num(r.r2, nan=-np.inf)))
