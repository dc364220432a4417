"""Intervals for a ranker replayed on a log's held-out split: AUC, gAUC and log-loss, each arm's and
each arm's difference from the ID-only ranker.

Two sources of noise are carried. The held-out users: a Poisson bootstrap over users (a user's rows
move together), the same weights for every arm and seed, so differences are paired. The training:
each arm trains with several seeds; the spread of the per-seed values, over the number of seeds, is
added to the bootstrap variance. The interval is the point ± z · se. What it does not cover: a
different training log (other days, other users), and model choices (architecture, tuning).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm, rankdata
from scipy.stats import t as student_t

from adsim.stats.model_metrics import per_group_auc
from adsim.stats.bootstrap import bootstrap_weights


@dataclass(frozen=True)
class Estimate:
    """A metric (or a difference) with its interval and standard error."""

    value: float
    ci_low: float
    ci_high: float
    se: float


@dataclass(frozen=True)
class HeldOut:
    """The held-out rows every arm is scored on, and the bootstrap weights over their users."""

    label: np.ndarray   # (n,) 0/1
    unit: np.ndarray    # (n,) the row's user as 0..n_units-1
    weights: np.ndarray  # (n_boot, n_units) Poisson(1) counts, uint8: 0.3 GB at 300 x a million users

    @staticmethod
    def of(label: np.ndarray, user: np.ndarray, seed: int, n_boot: int) -> "HeldOut":
        _, unit = np.unique(user, return_inverse=True)
        return HeldOut(label.astype(np.int8), unit,
                       bootstrap_weights(seed, int(unit.max(initial=-1)) + 1, n_boot, "replay-bootstrap", np.uint8))


UNIT_BLOCK = 1 << 16  # users whose uint8 weights are widened to float64 at a time


def _resampled_sums(weights: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(n_boot,) the sum of `values` (n_units,) under each resample, a block of users at a time, so
    the uint8 table is never widened whole."""
    out = np.zeros(weights.shape[0])
    for s in range(0, weights.shape[1], UNIT_BLOCK):
        out += weights[:, s:s + UNIT_BLOCK].astype(np.float64) @ values[s:s + UNIT_BLOCK]
    return out


def _weighted_auc(label: np.ndarray, level: np.ndarray, n_levels: int, w: np.ndarray) -> float:
    pos = np.bincount(level, weights=w * label, minlength=n_levels)
    neg = np.bincount(level, weights=w * (1 - label), minlength=n_levels)
    below = np.cumsum(neg) - neg
    denom = pos.sum() * neg.sum()
    return float((pos * (below + 0.5 * neg)).sum() / denom) if denom > 0 else float("nan")


def metric_draws(held: HeldOut, prob: np.ndarray) -> dict[str, tuple[float, np.ndarray]]:
    """Each metric's value on the held-out rows and its (n_boot,) bootstrap draws."""
    y = held.label.astype(np.float64)
    level = rankdata(prob, method="dense").astype(np.int64) - 1
    n_levels = int(level.max(initial=0)) + 1
    ones = np.ones(len(y))
    auc = _weighted_auc(y, level, n_levels, ones)
    auc_draws = np.array([_weighted_auc(y, level, n_levels, w[held.unit]) for w in held.weights])
    per_user, n, ok = per_group_auc(held.label, prob, held.unit)
    gw = np.where(ok, n * np.nan_to_num(per_user), 0.0)
    gn = np.where(ok, n, 0).astype(np.float64)
    p = np.clip(prob.astype(np.float64), 1e-7, 1 - 1e-7)
    loss = np.bincount(held.unit, weights=-(y * np.log(p) + (1 - y) * np.log1p(-p)), minlength=len(n))
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"auc": (auc, auc_draws),
                "gauc": (gw.sum() / gn.sum(), _resampled_sums(held.weights, gw) / _resampled_sums(held.weights, gn)),
                "log_loss": (loss.sum() / n.sum(), _resampled_sums(held.weights, loss) / _resampled_sums(held.weights, n))}


def combine(values: np.ndarray, draws: np.ndarray, level: float = 0.95, few_seeds: bool = False,
            interaction: float = 0.0) -> Estimate:
    """An estimate from per-seed values (S,) and their bootstrap draws (S, n_boot): the mean over
    seeds; se² = the bootstrap variance of the seed mean + the seeds' variance / S.

    `interaction`: the part of each per-seed value's variance that comes from how units and seeds
    interact (a query one seed gets right and another wrong; `interaction_variance`). The bootstrap
    of the seed mean already carries it, so it is taken out of the seeds' variance (floored at 0):
    each source is counted once.

    `few_seeds`: each variance takes its own quantile, half-width = sqrt(z² v_boot + t(S − 1)² v_seed):
    the seeds' variance is estimated from few seeds (t(2) is 4.3, not 1.96) and the bootstrap's is
    as good as known. Simulated with 3 seeds (tests/stats/test_replay_stats.py) it holds its level
    from bootstrap-dominated to seed-dominated noise, where plain z falls well short. `encoder
    compare` uses it; replay keeps z, which its coverage study checks at its seed counts."""
    values, draws = np.asarray(values, np.float64), np.asarray(draws, np.float64)
    value = float(values.mean())
    v_boot = float(np.nanvar(draws.mean(0), ddof=1))
    v_seed = max(0.0, float(values.var(ddof=1)) - interaction) / len(values) if len(values) > 1 else 0.0
    z = float(norm.ppf(0.5 + level / 2))
    t = float(student_t.ppf(0.5 + level / 2, len(values) - 1)) if few_seeds and len(values) > 1 else z
    half = (z * z * v_boot + t * t * v_seed) ** 0.5
    return Estimate(value, value - half, value + half, (v_boot + v_seed) ** 0.5)


def interaction_variance(per_unit: np.ndarray) -> float:
    """(S, n) per-seed, per-unit values -> the unit-by-seed interaction's share of the variance of
    one seed's mean over the units: the two-way residual mean square over n (0 with one seed)."""
    x = np.asarray(per_unit, np.float64)
    s, n = x.shape
    if s < 2 or n < 2:
        return 0.0
    resid = x - x.mean(1, keepdims=True) - x.mean(0, keepdims=True) + x.mean()
    return float((resid ** 2).sum() / ((n - 1) * (s - 1)) / n)
