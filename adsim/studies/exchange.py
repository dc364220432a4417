"""Exchange rates: how much downstream lift one point of an intermediate metric buys.

Every variant is an arm served against the same control on the same traffic. For each pair
(intermediate metric I, downstream metric D) the variants give points (x = change of I over the
control, in points for rates, y = relative lift of D in %); a line through the control's (0, 0)
gives the exchange rate (slope, log-% lift per point), with a CI from the variants' scatter, the paired
user bootstrap and the held-out-query bootstrap, each counted once (adsim.stats.rate_fit). Fit
quality: R², Spearman ρ, and the leave-one-variant-out prediction error and interval coverage,
which rank intermediate metrics by how well they predict downstream gains; the gap between one
metric and the next carries a CI over variants, since the best of many is a selection.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from adsim.core.vocab import in_points
from adsim.runs.arm import ArmOutcome
from adsim.stats.rate_fit import DEFAULT_ESTIMATOR, fit_exchange_rate
from adsim.stats.bootstrap import bootstrap_weights
from adsim.stats.lifts import resampled
from adsim.stats.estimates import ExchangeRate
from adsim.reports.exchange_report import RankedIntermediate


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
    x_boot: dict[str, np.ndarray]     # intermediate -> (B', V) changes under the held-out-query bootstrap
    families: dict[str, list[int]] = field(default_factory=dict)  # family -> its members' indices (each held out in turn)

    def with_families(self, family_of: Callable[[str], str | None]) -> "SweepPoints":
        """These points with the variants grouped by `family_of` (variants of no family stay out)."""
        groups: dict[str, list[int]] = {}
        for k, v in enumerate(self.variants):
            if (f := family_of(v)) is not None:
                groups.setdefault(f, []).append(k)
        return dataclasses.replace(self, families=groups)


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
    return SweepPoints(variants=names, x=x, y=y, y_boot=y_boot, y_ci=y_ci,
                       x_boot=intermediate_draws(control, variants, intermediates, seed, n_boot))


def intermediate_draws(control: ArmOutcome, variants: dict[str, ArmOutcome], intermediates: list[str], seed: int,
                       n_boot: int) -> dict[str, np.ndarray]:
    """intermediate -> (B, V) change over the control when the held-out queries (or held-out
    items) are resampled with Poisson(1) weights, the same for every arm (they share the queries).
    Metrics without per-unit values (uniformity) have no draws."""
    names = list(variants)
    out = {}
    for i in intermediates:
        arms = [control.per_unit.get(i)] + [variants[v].per_unit.get(i) for v in names]
        if any(a is None for a in arms) or len({len(a) for a in arms}) > 1:
            continue
        values = np.stack(arms)                                   # (1 + V, N)
        seen = np.isfinite(values)
        w = bootstrap_weights(seed, values.shape[1], n_boot, "benchmark-bootstrap").astype(np.float64)  # (B, N)
        with np.errstate(divide="ignore", invalid="ignore"):
            means = (w @ np.where(seen, values, 0).T) / (w @ seen.T)  # (B, 1 + V)
        scale = 100.0 if in_points(i) else 1.0
        draws = (means[:, 1:] - means[:, :1]) * scale
        out[i] = draws[np.isfinite(draws).all(1)]
    return out


def shared_coordinates(sweeps: list[SweepPoints]) -> tuple[list[str], list[str], int]:
    """The intermediates every sweep has, those of them every sweep has held-out-query draws of, and the
    fewest such draws any of them holds (so that draws can be lined up draw by draw)."""
    inter = [i for i in sweeps[0].x if all(i in p.x for p in sweeps)]
    with_x = [i for i in inter if all(i in p.x_boot for p in sweeps)]
    return inter, with_x, min((len(p.x_boot[i]) for p in sweeps for i in with_x), default=0)


def averaged_points(replicates: list[SweepPoints]) -> SweepPoints:
    """The replicates' points averaged per variant (their bootstrap draws too, draw by draw: the
    replicates are independent), for intermediates and draws every replicate has."""
    first = replicates[0]
    mean = lambda get: np.mean([get(p) for p in replicates], axis=0)  # noqa: E731
    inter, with_x, n_x = shared_coordinates(replicates)
    y_boot = {d: mean(lambda p: p.y_boot[d]) for d in first.y}
    return SweepPoints(variants=first.variants, x={i: mean(lambda p: p.x[i]) for i in inter},
                       y={d: mean(lambda p: p.y[d]) for d in first.y}, y_boot=y_boot,
                       y_ci={d: np.nanpercentile(b, [2.5, 97.5], axis=0) for d, b in y_boot.items()},
                       x_boot={i: mean(lambda p: p.x_boot[i][:n_x]) for i in with_x}, families=first.families)


def exchange_rates(points: SweepPoints, replicates: list[SweepPoints] = (), estimator: str = DEFAULT_ESTIMATOR,
                   loo: bool = True) -> dict[str, dict[str, ExchangeRate]]:
    """exchange_rates[intermediate][downstream]; with replicates, `points` are their average and
    each replicate's own slope carries the noise that differs between them; `loo`: hold each
    variant, and each family, out in turn."""
    def rate(i: str, d: str) -> ExchangeRate:
        slopes = ([fit_exchange_rate(p.x[i], p.y[d], p.y_boot[d], p.x_boot.get(i), estimator=estimator, loo=False).slope
                   for p in replicates] if len(replicates) > 1 else None)
        return fit_exchange_rate(points.x[i], points.y[d], points.y_boot[d], points.x_boot.get(i), replicate_slopes=slopes,
                                 estimator=estimator, loo=loo, families=points.families)
    return {i: {d: rate(i, d) for d in points.y} for i in points.x}


def loo_gap_interval(best: tuple[float, ...], other: tuple[float, ...], seed: int, n_boot: int = 2000,
                     level: float = 0.95) -> tuple[float, float, float]:
    """The leave-one-out RMSE of `other` minus that of `best` (> 0: `best` predicts better) and its
    percentile CI, the variants resampled with replacement (paired: both metrics held out the same
    variant). Picking the best of many metrics on the same variants is a selection; this says
    whether the runner-up could as well be the best."""
    e1, e2 = np.asarray(best, np.float64), np.asarray(other, np.float64)
    if len(e1) != len(e2) or len(e1) < 3:
        return float("nan"), float("nan"), float("nan")
    idx = np.random.default_rng([seed, 7219]).integers(0, len(e1), (n_boot, len(e1)))
    rmse = lambda e: np.sqrt(np.mean(np.square(e), axis=-1))  # noqa: E731
    draws = rmse(e2[idx]) - rmse(e1[idx])
    lo, hi = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
    return float(rmse(e2) - rmse(e1)), float(lo), float(hi)


def rank_intermediates(rates: dict[str, dict[str, ExchangeRate]], downstream: str, seed: int = 0) -> list[RankedIntermediate]:
    """Intermediate metrics ordered by how well they predict `downstream` (leave-one-variant-out
    error, then R²), each with its gap to the next one down and that gap's CI over variants."""
    order = sorted(rates, key=lambda i: (np.nan_to_num(rates[i][downstream].loo_rmse, nan=np.inf),
                                         -np.nan_to_num(rates[i][downstream].r2, nan=-np.inf)))
    rows = []
    for k, i in enumerate(order):
        nxt = rates[order[k + 1]][downstream].loo_errors if k + 1 < len(order) else ()
        gap = loo_gap_interval(rates[i][downstream].loo_errors, nxt, seed) if nxt else (np.nan, np.nan, np.nan)
        rows.append(RankedIntermediate.of(i, rates[i][downstream], gap))
    return rows
