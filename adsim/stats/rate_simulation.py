"""`adsim validate estimators`: the exchange-rate estimators graded on simulated sweeps whose truth
is known, drawn from the model the fits assume (adsim.stats.rate_fit).

A sweep of V variants: true changes xi uniform on [-2, 12] points; true log-lifts
slope * xi + scatter * sqrt|xi| * N(0, 1) (each variant's own deviation from the line); the lifts
measured with traffic noise and the changes with intermediate-metric noise, each partly shared by every
variant through the control (as paired arms share it), with bootstrap draws of both that the fits
read. The report gives, per estimator, the mean slope against the truth, the mean standard error
against the slopes' actual spread, and the share of 95 % CIs covering the truth. It takes seconds,
so it can be rerun at any setting; it grades the estimators' arithmetic, not the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from adsim.core.errors import ConfigError
from adsim.stats.rate_estimators import ESTIMATORS
from adsim.stats.rate_fit import fit_exchange_rate, pct_lift


@dataclass(frozen=True)
class SweepModel:
    """The model simulated sweeps are drawn from."""

    n_variants: int = 12
    slope: float = 0.8
    scatter: float = 0.5     # sd of a variant's own deviation per sqrt(point)
    traffic: float = 1.0     # sd of a lift's measurement noise (log-%), half of it again shared through the control
    metric_noise: float = 1.5   # sd of a change's measurement noise (points), 0.3 of it again shared
    n_boot: int = 300


def simulated_sweep(rng: np.random.Generator, m: SweepModel) -> tuple[np.ndarray, ...]:
    """(changes, % lifts, lifts' bootstrap draws, changes' bootstrap draws) of one simulated sweep."""
    V = m.n_variants
    xi = rng.uniform(-2, 12, V)
    lift = m.slope * xi + rng.normal(0, m.scatter, V) * np.sqrt(np.abs(xi))
    t_noise = lambda n: rng.normal(0, 0.5 * m.traffic, (n, 1)) + rng.normal(0, m.traffic, (n, V))  # noqa: E731
    x_noise = lambda n: rng.normal(0, 0.3 * m.metric_noise, (n, 1)) + rng.normal(0, m.metric_noise, (n, V))  # noqa: E731
    z, x = lift + t_noise(1)[0], xi + x_noise(1)[0]
    return x, pct_lift(z), pct_lift(z + t_noise(m.n_boot)), x + x_noise(m.n_boot)


@dataclass(frozen=True)
class EstimatorGrade:
    mean_slope: float
    slope_sd: float
    mean_se: float
    coverage: float


def grade_estimators(m: SweepModel, n_sweeps: int = 200, seed: int = 0) -> dict[str, EstimatorGrade]:
    """Every estimator on the same `n_sweeps` simulated sweeps."""
    if n_sweeps < 10 or m.n_variants < 3:
        raise ConfigError(f"need --sweeps >= 10 and --variants >= 3, got {n_sweeps} and {m.n_variants}")
    rng = np.random.default_rng(seed)
    fits: dict[str, list] = {e: [] for e in ESTIMATORS}
    for _ in range(n_sweeps):
        sweep = simulated_sweep(rng, m)
        for e in ESTIMATORS:
            r = fit_exchange_rate(*sweep, estimator=e, loo=False)
            fits[e].append((r.slope, r.se, r.ci_low <= m.slope <= r.ci_high))
    out = {}
    for e, rows in fits.items():
        a = np.array(rows, dtype=np.float64)
        out[e] = EstimatorGrade(mean_slope=float(a[:, 0].mean()), slope_sd=float(a[:, 0].std(ddof=1)),
                                mean_se=float(a[:, 1].mean()), coverage=float(a[:, 2].mean()))
    return out


def grade_lines(m: SweepModel, grades: dict[str, EstimatorGrade], n_sweeps: int) -> list[str]:
    head = (f"{n_sweeps} simulated sweeps of {m.n_variants} variants (true slope {m.slope}, scatter {m.scatter}, "
            f"traffic noise {m.traffic}, intermediate-metric noise {m.metric_noise}):")
    return [head] + [f"  {e}: mean slope {g.mean_slope:.3f} (sd {g.slope_sd:.3f}); mean se / sd {g.mean_se / g.slope_sd:.2f}; "
                     f"95 % CIs cover the truth {g.coverage:.1%}" for e, g in grades.items()]
