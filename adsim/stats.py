"""A/B statistics: ratio metrics with a paired bootstrap over users.

Each metric is a ratio of per-user sums (e.g. CTR = clicks / impressions). Resampling users with
Poisson(1) weights, the same weights for both arms (paired: the arms served the same users and
requests), gives the distribution of the treatment-vs-control lift; the CI is its percentile
interval and the p-value the two-sided bootstrap tail at zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from adsim.rng import generator


@dataclass(frozen=True)
class RatioMetric:
    """Per-user numerator and denominator sums, (n_users,) each, for one arm."""

    num: np.ndarray
    den: np.ndarray
    scale: float = 1.0

    def value(self) -> float:
        d = self.den.sum()
        return float(self.scale * self.num.sum() / d) if d > 0 else float("nan")


@dataclass(frozen=True)
class Lift:
    control: float
    treatment: float
    absolute: float
    relative: float
    ci_low: float
    ci_high: float
    abs_ci_low: float
    abs_ci_high: float
    p_value: float

    def as_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


def bootstrap_weights(seed: int, n_users: int, n_boot: int) -> np.ndarray:
    """(n_boot, n_users) Poisson(1) resampling weights, seeded."""
    return generator(seed, "bootstrap").poisson(1.0, (n_boot, n_users)).astype(np.float32)


def paired_lift(control: RatioMetric, treatment: RatioMetric, weights: np.ndarray, level: float = 0.95) -> Lift:
    """Relative and absolute lift with a paired bootstrap CI and p-value."""
    c, t = control.value(), treatment.value()

    def resampled(m: RatioMetric) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return m.scale * (weights @ m.num) / (weights @ m.den)

    cb, tb = resampled(control), resampled(treatment)
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
                abs_ci_low=float(alo), abs_ci_high=float(ahi), p_value=float(p))
