"""The statistics of an impression log that identify a world's knobs, as pure functions.

The same functions read a public log and a world's own day-0 log, so `adsim calibrate` compares
like with like:

- click-through level: clicks / impressions;
- position effect: a position-based model P(click) = theta_slot * gamma_item fitted by EM (the
  same ad shown in several slots separates the slot from the ad), theta_0 = 1; the decay is the
  least-squares slope of -log theta_k on log(k + 1) when the slots are ordered;
- the activity tail: requests per user are Poisson given a lognormal activity, so
  Var = m + m^2 (exp(sigma^2) - 1) gives sigma by moments;
- behaviour-sequence lengths: clicks per user before the held-out split;
- category popularity: the Zipf exponent of impressions per category (slope of log share on log rank);
- item prices: median and spread (sd of log price).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LogStats:
    """What a log says about the world that made it."""

    impressions: int
    users: int
    ctr: float
    slot_ctr: list[float]            # raw CTR per slot, in slot order
    examination: list[float]         # PBM theta per slot (theta_0 = 1)
    position_decay: float | None     # None with fewer than two slots
    activity_sigma: float
    requests_per_user: list[float]   # quantiles 0.5, 0.9, 0.99
    seq_len: list[float]             # clicks per user: quantiles 0.5, 0.9, 0.99
    category_zipf: float
    price_median: float | None
    price_log_sd: float | None


QUANTILES = (0.5, 0.9, 0.99)


def pbm_examination(slot: np.ndarray, item: np.ndarray, click: np.ndarray, n_iter: int = 100) -> np.ndarray:
    """theta per slot of the position-based model P(click) = theta_slot gamma_item, fitted by EM
    (Chuklin et al., "Click models for web search", ch. 4), scaled so theta_0 = 1."""
    n_slots = int(slot.max()) + 1
    _, it = np.unique(item, return_inverse=True)
    c = click.astype(np.float64)
    shown_slot, shown_item = np.bincount(slot, minlength=n_slots), np.bincount(it)
    theta = np.full(n_slots, 0.5)
    gamma = np.full(len(shown_item), max(c.mean(), 1e-3) * 2).clip(1e-4, 0.99)
    for _ in range(n_iter):
        t, g = theta[slot], gamma[it]
        miss = np.maximum(1 - t * g, 1e-12)
        seen = c + (1 - c) * t * (1 - g) / miss         # P(examined | observation)
        liked = c + (1 - c) * (1 - t) * g / miss        # P(attractive | observation)
        theta = np.bincount(slot, seen, n_slots) / np.maximum(shown_slot, 1)
        gamma = (np.bincount(it, liked, len(shown_item)) / np.maximum(shown_item, 1)).clip(1e-6, 1 - 1e-6)
    return theta / theta[0]


def decay_from_examination(theta: np.ndarray) -> float | None:
    """The exponent d of theta_k = 1 / (k + 1)^d, least squares through the origin on the slots."""
    if len(theta) < 2:
        return None
    x = np.log(np.arange(len(theta)) + 1.0)[1:]
    y = -np.log(np.clip(theta[1:], 1e-9, None))
    return float((x * y).sum() / (x * x).sum())


def lognormal_sigma(counts: np.ndarray) -> float:
    """sigma of a lognormal activity behind Poisson counts per user, by moments (0 if none)."""
    m, v = counts.mean(), counts.var()
    return float(np.sqrt(np.log1p(max(v - m, 0.0) / m ** 2))) if m > 0 else 0.0


def zipf_exponent(counts: np.ndarray) -> float:
    """Slope of -log(share) on log(rank) over the categories with impressions."""
    c = np.sort(counts[counts > 0])[::-1].astype(np.float64)
    if len(c) < 3:
        return 0.0
    x, y = np.log(np.arange(1, len(c) + 1)), np.log(c / c.sum())
    return float(-np.polyfit(x, y, 1)[0])


def log_stats(user: np.ndarray, time: np.ndarray, item: np.ndarray, slot: np.ndarray, click: np.ndarray,
              category: np.ndarray, clicks_per_user: np.ndarray, item_price: np.ndarray | None) -> LogStats:
    """LogStats of impressions (one row each, `category` the row's item's), of the behaviour the
    system had per user (`clicks_per_user`) and of the catalogue's prices (NaN where unknown)."""
    n_users = int(user.max()) + 1
    order = np.lexsort((time, user))
    u, t = user[order], time[order]
    new_request = np.r_[True, (u[1:] != u[:-1]) | (t[1:] != t[:-1])]
    requests = np.bincount(u[new_request], minlength=n_users)
    requests = requests[requests > 0]
    theta = pbm_examination(slot, item, click)
    shown = np.bincount(slot)
    prices = None if item_price is None else item_price[np.isfinite(item_price) & (item_price > 0)]
    has_price = prices is not None and len(prices) > 0
    return LogStats(
        impressions=len(user), users=int(len(requests)), ctr=float(click.mean()),
        slot_ctr=(np.bincount(slot, click.astype(np.float64)) / np.maximum(shown, 1)).tolist(),
        examination=theta.tolist(), position_decay=decay_from_examination(theta),
        activity_sigma=lognormal_sigma(requests), requests_per_user=np.quantile(requests, QUANTILES).tolist(),
        seq_len=np.quantile(clicks_per_user, QUANTILES).tolist(), category_zipf=zipf_exponent(np.bincount(category)),
        price_median=float(np.median(prices)) if has_price else None,
        price_log_sd=float(np.log(prices).std()) if has_price else None)
