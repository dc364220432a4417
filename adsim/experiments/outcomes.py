"""Per-user sums of every ratio metric, overall, per day and per slice.

A metric is a ratio of per-user sums (CTR = clicks / impressions), so lifts and CIs come from a
bootstrap over users (adsim.stats). Slices: query modality and query category (requests), and
item age (impressions of items listed within the last `NEW_ITEM_DAYS` days vs established ones),
since content embeddings are expected to help new items and visual categories most.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from adsim.core.vocab import MODALITIES
from adsim.serving.engine import DayResult
from adsim.experiments.stats import RatioMetric
from adsim.core.taxonomy import LEAF_TOP, TOP_CATEGORIES
from adsim.world.build import World

NEW_ITEM_DAYS = 7
_ones = lambda d: np.ones(len(d.clicks))
# name -> (numerator, denominator, scale) over per-request outcomes.
RATIO_METRICS: dict[str, tuple[Callable[[DayResult], np.ndarray], Callable[[DayResult], np.ndarray], float]] = {
    "ctr": (lambda d: d.clicks, lambda d: d.n_shown, 1.0),
    "clicks_per_request": (lambda d: d.clicks, _ones, 1.0),
    "rpm": (lambda d: d.revenue, _ones, 1000.0),
    "revenue_per_request": (lambda d: d.revenue, _ones, 1.0),
    "relevance_rate": (lambda d: d.relevant_shown, lambda d: d.n_shown, 1.0),
    "coverage": (lambda d: (d.n_shown > 0), _ones, 1.0),
    "retrieval_recall": (lambda d: d.relevant_retrieved, lambda d: d.relevant_reachable, 1.0),
    "target_recall": (lambda d: d.target_retrieved, _ones, 1.0),
    "purchases_per_request": (lambda d: d.purchases, _ones, 1.0),
}


def _per_user(users: np.ndarray, values: np.ndarray, n_users: int) -> np.ndarray:
    return np.bincount(users, weights=values.astype(np.float64), minlength=n_users)


def _sliced(d: DayResult, request_mask: np.ndarray, slot_mask: np.ndarray, n_users: int) -> dict[str, RatioMetric]:
    """CTR, clicks and RPM restricted to some requests and some of their slots."""
    w = slot_mask & (d.shown >= 0) & request_mask[:, None]
    clicks = (d.slot_click & w).sum(1)
    u = d.user_ids
    per_request = _per_user(u, request_mask, n_users)
    return {"ctr": RatioMetric(_per_user(u, clicks, n_users), _per_user(u, w.sum(1), n_users)),
            "clicks_per_request": RatioMetric(_per_user(u, clicks, n_users), per_request),
            "rpm": RatioMetric(_per_user(u, (d.slot_revenue * w).sum(1), n_users), per_request, 1000.0)}


def outcome_sums(world: World, results: dict[int, DayResult]) -> dict[str, RatioMetric]:
    """Every metric over all served days, per day (when several), and per slice."""
    n_users = len(world.users.user_id)
    out: dict[str, RatioMetric] = {}
    groups = {"all": DayResult.concat(list(results.values()))}
    if len(results) > 1:
        groups |= {f"day={day}": r for day, r in results.items()}
    for group, d in groups.items():
        for name, (num, den, scale) in RATIO_METRICS.items():
            out[f"{group}/{name}"] = RatioMetric(_per_user(d.user_ids, num(d), n_users), _per_user(d.user_ids, den(d), n_users), scale)
    d = groups["all"]
    all_slots = np.ones(d.shown.shape, dtype=bool)
    every = np.ones(len(d.request_ids), dtype=bool)
    modality = world.requests.modality[d.request_ids]
    top = LEAF_TOP[world.requests.intent.leaf[d.request_ids]]
    day = world.requests.day[d.request_ids]
    new = (world.items.listed_day[np.maximum(d.shown, 0)] >= day[:, None] - NEW_ITEM_DAYS)
    slices = {f"modality={m}": (modality == i, all_slots) for i, m in enumerate(MODALITIES)}
    slices |= {f"category={c}": (top == i, all_slots) for i, c in enumerate(TOP_CATEGORIES)}
    slices |= {"item_age=new": (every, new), "item_age=established": (every, ~new)}
    for name, (req_mask, slot_mask) in slices.items():
        for metric, ratio in _sliced(d, req_mask, slot_mask, n_users).items():
            out[f"{name}/{metric}"] = ratio
    return out
