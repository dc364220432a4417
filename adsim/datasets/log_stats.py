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

Every statistic but the prices is a function of a few counts (`LogCounts`): shown and clicked per
(slot, item), requests and behaviour per user, impressions per category. A log read part by part
adds its parts' counts (`LogCounts.add`), so memory follows the catalogue and the users, not the
rows; the position-based model's EM runs on the (slot, item) counts, which give the same updates as
the rows they count.
"""

from __future__ import annotations

import dataclasses
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


def pbm_from_counts(shown: np.ndarray, clicked: np.ndarray, n_iter: int = 100) -> np.ndarray:
    """theta per slot of the position-based model P(click) = theta_slot gamma_item, fitted by EM
    (Chuklin et al., "Click models for web search", ch. 4) on (slots, items) counts of impressions
    and clicks, scaled so theta_0 = 1. The E-step of a cell's n rows with k clicks is k + (n - k) *
    P(examined | no click): the rows' own updates, summed."""
    cells = shown > 0
    slot, item = np.nonzero(cells)
    n, k = shown[cells].astype(np.float64), clicked[cells].astype(np.float64)
    n_slots, n_items = shown.shape
    shown_slot, shown_item = np.bincount(slot, n, n_slots), np.bincount(item, n, n_items)
    theta = np.full(n_slots, 0.5)
    gamma = np.full(n_items, max(k.sum() / max(n.sum(), 1), 1e-3) * 2).clip(1e-4, 0.99)
    for _ in range(n_iter):
        t, g = theta[slot], gamma[item]
        miss = np.maximum(1 - t * g, 1e-12)
        seen = k + (n - k) * t * (1 - g) / miss         # examined, in expectation
        liked = k + (n - k) * (1 - t) * g / miss        # attractive, in expectation
        theta = np.bincount(slot, seen, n_slots) / np.maximum(shown_slot, 1)
        gamma = (np.bincount(item, liked, n_items) / np.maximum(shown_item, 1)).clip(1e-6, 1 - 1e-6)
    return theta / theta[0]


def pbm_examination(slot: np.ndarray, item: np.ndarray, click: np.ndarray, n_iter: int = 100) -> np.ndarray:
    """`pbm_from_counts` of logged rows."""
    _, it = np.unique(item, return_inverse=True)
    n_slots, n_items = int(slot.max()) + 1, int(it.max()) + 1
    key = slot.astype(np.int64) * n_items + it
    shape = (n_slots, n_items)
    return pbm_from_counts(np.bincount(key, minlength=n_slots * n_items).reshape(shape),
                           np.bincount(key, click.astype(np.float64), n_slots * n_items).reshape(shape), n_iter)


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


@dataclass
class LogCounts:
    """The counts every statistic but the prices is made of; parts of a log add theirs."""

    shown: np.ndarray      # (slots, items) impressions
    clicked: np.ndarray    # (slots, items) clicks
    requests: np.ndarray   # (users,) requests: distinct (user, time) moments
    behaviour: np.ndarray  # (users,) the behaviour the system had per user
    category: np.ndarray   # (categories,) impressions

    @staticmethod
    def of(user: np.ndarray, time: np.ndarray, item: np.ndarray, slot: np.ndarray, click: np.ndarray,
           category: np.ndarray, shape: tuple[int, int, int, int]) -> "LogCounts":
        """Counts of rows (whole users: a user's requests are counted where their rows are), in
        tables of `shape` = (slots, items, users, categories); behaviour starts at zero."""
        n_slots, n_items, n_users, n_categories = shape
        order = np.lexsort((time, user))
        u, t = user[order], time[order]
        new_request = np.r_[True, (u[1:] != u[:-1]) | (t[1:] != t[:-1])] if len(u) else np.zeros(0, bool)
        key = slot.astype(np.int64) * n_items + item
        return LogCounts(shown=np.bincount(key, minlength=n_slots * n_items).reshape(n_slots, n_items).astype(np.float64),
                         clicked=np.bincount(key, click.astype(np.float64), n_slots * n_items).reshape(n_slots, n_items),
                         requests=np.bincount(u[new_request], minlength=n_users), behaviour=np.zeros(n_users),
                         category=np.bincount(category, minlength=n_categories))

    def add(self, other: "LogCounts") -> "LogCounts":
        return LogCounts(*(a + b for a, b in zip(dataclasses.astuple(self), dataclasses.astuple(other))))


def stats_from_counts(c: LogCounts, clicks_per_user: np.ndarray, item_price: np.ndarray | None) -> LogStats:
    """LogStats of a log's counts, of the behaviour the system had per user (`clicks_per_user`, its
    users with requests) and of the catalogue's prices (NaN where unknown)."""
    requests = c.requests[c.requests > 0]
    theta = pbm_from_counts(c.shown, c.clicked)
    shown_slot = c.shown.sum(1)
    prices = None if item_price is None else item_price[np.isfinite(item_price) & (item_price > 0)]
    has_price = prices is not None and len(prices) > 0
    n = float(c.shown.sum())
    return LogStats(
        impressions=int(n), users=int(len(requests)), ctr=float(c.clicked.sum() / n),
        slot_ctr=(c.clicked.sum(1) / np.maximum(shown_slot, 1)).tolist(),
        examination=theta.tolist(), position_decay=decay_from_examination(theta),
        activity_sigma=lognormal_sigma(requests), requests_per_user=np.quantile(requests, QUANTILES).tolist(),
        seq_len=np.quantile(clicks_per_user, QUANTILES).tolist(), category_zipf=zipf_exponent(c.category),
        price_median=float(np.median(prices)) if has_price else None,
        price_log_sd=float(np.log(prices).std()) if has_price else None)


def log_stats(user: np.ndarray, time: np.ndarray, item: np.ndarray, slot: np.ndarray, click: np.ndarray,
              category: np.ndarray, clicks_per_user: np.ndarray, item_price: np.ndarray | None) -> LogStats:
    """LogStats of impressions held in memory (one row each, `category` the row's item's)."""
    shape = (int(slot.max()) + 1, int(item.max()) + 1, int(user.max()) + 1, int(category.max()) + 1)
    return stats_from_counts(LogCounts.of(user, time, item, slot, click, category, shape), clicks_per_user, item_price)
