"""A/B statistics: ratio metrics with a paired bootstrap over users.

Each metric is a ratio of per-user sums (e.g. CTR = clicks / impressions). Resampling users with
Poisson(1) weights, the same weights for both arms (paired: the arms served the same users and
requests), gives the distribution of the treatment-vs-control lift; the CI is its percentile
interval and the p-value the two-sided bootstrap tail at zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from adsim.core.rng import generator
from adsim.reports.lift import Lift


@dataclass(frozen=True)
class RatioMetric:
    """Per-user numerator and denominator sums, (n_users,) each, for one arm."""

    num: np.ndarray
    den: np.ndarray
    scale: float = 1.0

    def value(self) -> float:
        d = self.den.sum()
        return float(self.scale * self.num.sum() / d) if d > 0 else float("nan")


def bootstrap_weights(seed: int, n_users: int, n_boot: int) -> np.ndarray:
    """(n_boot, n_users) Poisson(1) resampling weights, seeded."""
    return generator(seed, "bootstrap").poisson(1.0, (n_boot, n_users)).astype(np.float32)


def paired_lift(control: RatioMetric, treatment: RatioMetric, weights: np.ndarray, level: float = 0.95) -> Lift:
    """Relative and absolute lift with a paired bootstrap CI and p-value."""
    c, t = control.value(), treatment.value()

    cb, tb = resampled(control, weights), resampled(treatment, weights)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel_b = tb / cb - 1
    abs_b = tb - cb
    ok = np.isfinite(rel_b)
    q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
    lo, hi = np.percentile(rel_b[ok], q) if ok.any() else (np.nan, np.nan)
    alo, ahi = np.percentile(abs_b[np.isfinite(abs_b)], q) if np.isfinite(abs_b).any() else (np.nan, np.nan)
    n = max(int(ok.sum()), 1)
    if np.allclose(abs_b, 0):
        p = 1.0
    else:
        p = min(1.0, 2 * min((abs_b <= 0).sum() + 1, (abs_b >= 0).sum() + 1) / (n + 1))
    rel = t / c - 1 if c not in (0, 0.0) and np.isfinite(c) else float("nan")
    return Lift(control=c, treatment=t, absolute=t - c, relative=float(rel), ci_low=float(lo), ci_high=float(hi),
                abs_ci_low=float(alo), abs_ci_high=float(ahi), p_value=float(p),
                se_relative=float(np.std(rel_b[ok])) if ok.any() else float("nan"))


def resampled(m: RatioMetric, weights: np.ndarray) -> np.ndarray:
    """The metric under each bootstrap resample, (n_boot,)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return m.scale * (weights @ m.num) / (weights @ m.den)


def unpaired_ci_width(control: RatioMetric, treatment: RatioMetric, seed: int, n_boot: int, level: float = 0.95) -> float:
    """Width of the relative-lift CI when the arms are resampled independently (no pairing, no CRN)."""
    n = len(control.num)
    wc = generator(seed, "bootstrap-unpaired", 0).poisson(1.0, (n_boot, n)).astype(np.float32)
    wt = generator(seed, "bootstrap-unpaired", 1).poisson(1.0, (n_boot, n)).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = resampled(treatment, wt) / resampled(control, wc) - 1
    rel = rel[np.isfinite(rel)]
    if not len(rel):
        return float("nan")
    lo, hi = np.percentile(rel, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return float(hi - lo)


def minimum_detectable_effect(se: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest true relative lift detected with probability `power` by a two-sided test at `alpha`."""
    z = NormalDist()
    return (z.inv_cdf(1 - alpha / 2) + z.inv_cdf(power)) * se
