"""A/B statistics: ratio metrics with a paired bootstrap over users.

Each metric is a ratio of per-user sums (e.g. CTR = clicks / impressions). Resampling users with
Poisson(1) weights, the same weights for both arms (paired: the arms served the same users and
requests), gives the distribution of the treatment-vs-control lift; the CI is its percentile
interval and the p-value the two-sided bootstrap tail at zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import Sequence

import numpy as np

from adsim.core.runtime import dist
from adsim.stats.bootstrap import Bootstrap
from adsim.stats.estimates import Lift


@dataclass(frozen=True)
class RatioMetric:
    """Per-user numerator and denominator sums, (n_users,) each, for one arm."""

    num: np.ndarray
    den: np.ndarray
    scale: float = 1.0

    def value(self) -> float:
        d = self.den.sum()
        return float(self.scale * self.num.sum() / d) if d > 0 else float("nan")


def paired_lift(control: RatioMetric, treatment: RatioMetric, weights: np.ndarray, level: float = 0.95) -> Lift:
    """Relative and absolute lift with a paired bootstrap CI and p-value, under dense `weights`
    (`lift_of_draws` for draws summed by `resampled_many`)."""
    return lift_of_draws(control.value(), treatment.value(), resampled(control, weights), resampled(treatment, weights), level)


def lift_of_draws(c: float, t: float, cb: np.ndarray, tb: np.ndarray, level: float = 0.95) -> Lift:
    """The lift of `t` over `c` with its paired bootstrap CI and p-value from the two arms' values
    under the same resamples (`cb`, `tb`).

    The p-value is the two-sided bootstrap tail at zero of the absolute lift, over the same draws
    as its CI, so p < 1 - level exactly when the absolute CI excludes zero (also with a zero
    control, where the relative lift is undefined)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        rel_b = tb / cb - 1
    abs_b = tb - cb
    rel_ok, abs_ok = rel_b[np.isfinite(rel_b)], abs_b[np.isfinite(abs_b)]
    lo, hi = percentile_interval(rel_ok, level)
    alo, ahi = percentile_interval(abs_ok, level)
    rel = t / c - 1 if c not in (0, 0.0) and np.isfinite(c) else float("nan")
    return Lift(control=c, treatment=t, absolute=t - c, relative=float(rel), ci_low=lo, ci_high=hi,
                abs_ci_low=alo, abs_ci_high=ahi, p_value=bootstrap_p_value(abs_ok),
                se_relative=float(np.std(rel_ok)) if len(rel_ok) else float("nan"))


def percentile_interval(draws: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The percentile interval by order statistics (inverted CDF at each tail, mirrored for the
    upper one), so it excludes zero exactly when `bootstrap_p_value` < 1 - level."""
    if not len(draws):
        return float("nan"), float("nan")
    tail = (1 - level) / 2
    lo = np.quantile(draws, tail, method="inverted_cdf")
    hi = -np.quantile(-draws, tail, method="inverted_cdf")
    return float(lo), float(hi)


def bootstrap_p_value(draws: np.ndarray) -> float:
    """Two-sided bootstrap p-value of zero: twice the smaller share of draws on either side of it
    (ties count on both), at least 1 / n (a bootstrap cannot resolve smaller)."""
    if not len(draws):
        return float("nan")
    below, above = np.mean(draws <= 0), np.mean(draws >= 0)
    return float(min(1.0, max(2 * min(below, above), 1 / len(draws))))


def resampled(m: RatioMetric, weights: np.ndarray) -> np.ndarray:
    """The metric under each bootstrap resample, (n_boot,)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return m.scale * (weights @ m.num) / (weights @ m.den)


def resampled_many(metrics: Sequence[RatioMetric], boot: Bootstrap, me: dist.Ranks | None = None) -> list[np.ndarray]:
    """Each metric under every resample of `boot` (as `resampled`), all in one pass over its draws."""
    t = boot.totals([x for m in metrics for x in (m.num, m.den)], me)
    with np.errstate(divide="ignore", invalid="ignore"):
        return [m.scale * t[:, 2 * i] / t[:, 2 * i + 1] for i, m in enumerate(metrics)]


def unpaired_ci_widths(pairs: Sequence[tuple[RatioMetric, RatioMetric]], seed: int, n_boot: int, level: float = 0.95,
                       me: dist.Ranks | None = None) -> list[float]:
    """Per (control, treatment) pair, the width of the relative-lift CI when the arms are resampled
    independently (no pairing, no CRN): every control under one stream, every treatment under another."""
    n = len(pairs[0][0].num)
    cb = resampled_many([c for c, _ in pairs], Bootstrap(seed, n, n_boot, ("bootstrap-unpaired", 0)), me)
    tb = resampled_many([t for _, t in pairs], Bootstrap(seed, n, n_boot, ("bootstrap-unpaired", 1)), me)
    widths = []
    for c, t in zip(cb, tb):
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = t / c - 1
        lo, hi = percentile_interval(rel[np.isfinite(rel)], level)
        widths.append(hi - lo)
    return widths


def unpaired_ci_width(control: RatioMetric, treatment: RatioMetric, seed: int, n_boot: int, level: float = 0.95) -> float:
    """`unpaired_ci_widths` of one pair."""
    return unpaired_ci_widths([(control, treatment)], seed, n_boot, level)[0]


def minimum_detectable_effect(se: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest true relative lift detected with probability `power` by a two-sided test at `alpha`."""
    z = NormalDist()
    return (z.inv_cdf(1 - alpha / 2) + z.inv_cdf(power)) * se
