"""What a real log adds to replay's ranker, part by part: each impression's behaviour events strictly
before it (category, brand, kind), its affinity features, the user's profile and the ad's price.

Per part (whole users, so a user's events and impressions meet in one part) the causal join by time
is computed once as two indices per row (the user's first event and the first at or after the
impression: `stages.sequences.events_before`) and the affinity features as a small (rows, A) table;
a batch slices both, so memory follows the part size.

Affinity features, from all of the user's events before the impression: the share of them in the
ad's category and in its brand (0 where the ad's is unknown), log(1 + count) in the ad's category
per event kind, and log(1 + all events). The first is the one-line heuristic the field compares
against (`category_share`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from adsim.datasets.log_behaviour import BehaviourPart
from adsim.datasets.log_table import LogPart, PreparedLog
from stages.ranker.features import LogSide, LogSizes
from stages.sequences import causal_counts, events_before, right_padded, windows

PRICE_BUCKETS = 16


def price_buckets(price: np.ndarray, n: int = PRICE_BUCKETS) -> np.ndarray:
    """(n_items,) codes 1..n by the catalogue's price quantiles, 0 where the price is unknown."""
    known = np.isfinite(price) & (price > 0)
    out = np.zeros(len(price), np.int64)
    if known.any():
        edges = np.quantile(np.log(price[known]), np.linspace(0, 1, n + 1)[1:-1])
        out[known] = np.searchsorted(edges, np.log(price[known]), side="right") + 1
    return out


def log_sizes(log: PreparedLog, features: tuple[str, ...]) -> LogSizes | None:
    """The tables the ranker needs for `features` the log has, None where none are on."""
    events = "events" in features and bool(log.kinds)
    affinity = "affinity" in features and bool(log.kinds)
    profile = tuple(log.profile_sizes.values()) if "profile" in features and log.profile_sizes else ()
    price = "price" in features and bool(np.isfinite(log.item_price).any())
    if not (events or affinity or profile or price):
        return None
    return LogSizes(kinds=len(log.kinds) + 1 if events else 0, affinity=3 + len(log.kinds) if affinity else 0,
                    profile=profile, price_buckets=PRICE_BUCKETS + 1 if price else 0)


@dataclass(frozen=True)
class PartSide:
    """One part's log side: per row, the bounds of its user's events before it and its affinity."""

    events: BehaviourPart | None
    first: np.ndarray | None     # (n,) the row's user's first event
    end: np.ndarray | None       # (n,) the first event at or after the row's time
    affinity: np.ndarray | None  # (n, A) float32


def part_side(log: PreparedLog, part: LogPart, events: BehaviourPart | None, sizes: LogSizes | None) -> PartSide:
    """The causal join of one part's impressions with its users' events (see the module docstring)."""
    if sizes is None or not (sizes.kinds or sizes.affinity) or events is None:
        return PartSide(None, None, None, None)
    first, end = events_before(part.user, part.time, events.user, events.time)
    return PartSide(events, first, end, affinity_features(log, part, events, end - first) if sizes.affinity else None)


def affinity_features(log: PreparedLog, part: LogPart, events: BehaviourPart, total: np.ndarray) -> np.ndarray:
    """(n, 3 + kinds) float32: category share, brand share, log1p of category counts per kind, log1p total."""
    cate, brand = log.item_side["category"][part.item], log.item_side["brand"][part.item]
    same_cate = causal_counts(part.user, part.time, events.user, events.time, cate, events.category)
    same_brand = causal_counts(part.user, part.time, events.user, events.time, brand, events.brand)
    n = np.maximum(total, 1)
    cols = [np.where(cate > 0, same_cate / n, 0.0), np.where(brand > 0, same_brand / n, 0.0)]
    for k in range(1, len(log.kinds) + 1):
        mine = events.kind == k
        counts = causal_counts(part.user, part.time, events.user[mine], events.time[mine], cate, events.category[mine])
        cols.append(np.log1p(np.where(cate > 0, counts, 0)))
    cols.append(np.log1p(total))
    return np.stack(cols, 1).astype(np.float32)


def category_share(side: PartSide) -> np.ndarray | None:
    """The heuristic: the share of the user's earlier events in the ad's category."""
    return None if side.affinity is None else side.affinity[:, 0].astype(np.float64)


def _long(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).long()


def batch_side(log: PreparedLog, part: LogPart, side: PartSide, rows: np.ndarray, sizes: LogSizes | None,
               event_len: int, prices: np.ndarray) -> LogSide | None:
    """The LogSide of rows `rows` of a part: events right-padded with 0, one candidate per row."""
    if sizes is None:
        return None
    out = LogSide()
    if sizes.kinds and side.events is not None:
        idx, n_valid = right_padded(windows(side.first[rows], side.end[rows], event_len))
        safe = np.maximum(idx, 0)
        valid = idx >= 0
        ev = side.events
        out.event_category, out.event_brand = _long(ev.category[safe] * valid), _long(ev.brand[safe] * valid)
        out.event_kind, out.event_len = _long(ev.kind[safe].astype(np.int64) * valid), _long(n_valid)
    if sizes.affinity and side.affinity is not None:
        out.affinity = torch.from_numpy(side.affinity[rows][:, None, :])
    if sizes.profile:
        out.profile = _long(log.profile[part.user[rows]])
    if sizes.price_buckets:
        out.price = _long(prices[part.item[rows]][:, None])
    return out
