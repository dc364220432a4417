"""Per-user sums of every ratio metric, overall, per day and per slice: an arm's outcome.

A metric is a ratio of per-user sums (CTR = clicks / impressions), so lifts and CIs come from a
bootstrap over users (adsim.stats.lifts). Slices: query modality and query category
(requests), and item age (impressions of items listed within the last `NEW_ITEM_DAYS` days vs
established ones), since content embeddings are expected to help new items and visual
categories most.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from adsim.core.runtime import dist
from adsim.core.taxonomy import LEAF_TOP, TOP_CATEGORIES
from adsim.core.vocab import MODALITIES
from adsim.stats.lifts import RatioMetric
from adsim.serving.records import DayResult
from adsim.world.build import World

NEW_ITEM_DAYS = 7
PerRequest = Callable[[DayResult], np.ndarray]


def _ones(d: DayResult) -> np.ndarray:
    return np.ones(len(d.clicks))


# metric -> (numerator, denominator, scale) over per-request outcomes; the keys are
# adsim.core.vocab.RATIO_METRICS, in that order (a test holds them equal).
RATIOS: dict[str, tuple[PerRequest, PerRequest, float]] = {
    "ctr": (lambda d: d.clicks, lambda d: d.n_shown, 1.0),
    "clicks_per_request": (lambda d: d.clicks, _ones, 1.0),
    "rpm": (lambda d: d.revenue, _ones, 1000.0),
    "revenue_per_request": (lambda d: d.revenue, _ones, 1.0),
    "relevance_rate": (lambda d: d.relevant_shown, lambda d: d.n_shown, 1.0),
    "coverage": (lambda d: (d.n_shown > 0), _ones, 1.0),
    "retrieval_recall": (lambda d: d.relevant_retrieved, lambda d: d.relevant_reachable, 1.0),
    "target_recall": (lambda d: d.target_retrieved, _ones, 1.0),
    "purchases_per_request": (lambda d: d.purchases, _ones, 1.0),
    "expected_ctr": (lambda d: d.expected_clicks(), lambda d: d.n_shown, 1.0),
    "expected_rpm": (lambda d: d.expected_revenue(), _ones, 1000.0),
    "expected_clicks_per_request": (lambda d: d.expected_clicks(), _ones, 1.0),
}

Metrics = dict[str, RatioMetric]


@dataclass(frozen=True)
class OutcomeSums:
    """Per-user sums of an arm: every metric overall and per serving day (when several), and the
    slice metrics per slice."""

    overall: Metrics
    days: dict[int, Metrics]
    slices: dict[str, Metrics]  # "modality=image", "category=toys", "item_age=new", ...

    def flat(self) -> dict[str, RatioMetric]:
        """Named "<group>/<metric>" ("all/ctr", "day=2/ctr", "modality=image/ctr"), as saved on disk."""
        out = {f"all/{m}": v for m, v in self.overall.items()}
        out |= {f"day={d}/{m}": v for d, ms in self.days.items() for m, v in ms.items()}
        return out | {f"{s}/{m}": v for s, ms in self.slices.items() for m, v in ms.items()}

    @classmethod
    def from_flat(cls, sums: dict[str, RatioMetric]) -> "OutcomeSums":
        overall: Metrics = {}
        days: dict[int, Metrics] = {}
        slices: dict[str, Metrics] = {}
        for key, value in sums.items():
            group, metric = key.split("/")
            if group == "all":
                overall[metric] = value
            elif group.startswith("day="):
                days.setdefault(int(group[4:]), {})[metric] = value
            else:
                slices.setdefault(group, {})[metric] = value
        return cls(overall=overall, days=days, slices=slices)

    @property
    def n_users(self) -> int:
        return len(next(iter(self.overall.values())).num)


def summed_flat(flat: dict[str, RatioMetric], me: dist.Ranks | None = None) -> dict[str, RatioMetric]:
    """`flat`'s sums added up over the ranks of `me` in one all-reduce. `flat` is emptied as its
    arrays are copied into the one buffer sent, so (where nothing else holds them) memory peaks at
    the sums plus one metric, not twice the sums (0.8 GB an arm at a million users)."""
    names, scales = list(flat), {k: v.scale for k, v in flat.items()}
    buf = np.empty((len(names), 2, len(flat[names[0]].num)))
    for i, k in enumerate(names):
        v = flat.pop(k)
        buf[i, 0], buf[i, 1] = v.num, v.den
        del v
    total = dist.all_sum(buf, me)
    return {k: RatioMetric(total[i, 0], total[i, 1], scales[k]) for i, k in enumerate(names)}


def _per_user(users: np.ndarray, values: np.ndarray, n_users: int) -> np.ndarray:
    return np.bincount(users, weights=values.astype(np.float64), minlength=n_users)


def ratio_sums(d: DayResult, n_users: int) -> Metrics:
    """Every ratio metric of per-request outcomes `d`, summed per user."""
    return {name: RatioMetric(_per_user(d.user_ids, num(d), n_users), _per_user(d.user_ids, den(d), n_users), scale)
            for name, (num, den, scale) in RATIOS.items()}


def sliced(d: DayResult, request_mask: np.ndarray, slot_mask: np.ndarray, n_users: int) -> Metrics:
    """CTR, clicks and RPM (and CTR in expectation) restricted to some requests and some of their slots."""
    w = slot_mask & (d.shown >= 0) & request_mask[:, None]
    clicks = (d.slot_click & w).sum(1)
    u = d.user_ids
    per_request = _per_user(u, request_mask, n_users)
    impressions = _per_user(u, w.sum(1), n_users)
    return {"ctr": RatioMetric(_per_user(u, clicks, n_users), impressions),
            "clicks_per_request": RatioMetric(_per_user(u, clicks, n_users), per_request),
            "rpm": RatioMetric(_per_user(u, (d.slot_revenue * w).sum(1), n_users), per_request, 1000.0),
            "expected_ctr": RatioMetric(_per_user(u, (d.slot_true_ctr * w).sum(1), n_users), impressions)}


def slice_masks(world: World, d: DayResult) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """slice name -> (request mask (R,), slot mask (R, K)) over per-request outcomes `d`."""
    all_slots = np.ones(d.shown.shape, dtype=bool)
    every = np.ones(len(d.request_ids), dtype=bool)
    modality = world.requests.modality[d.request_ids]
    top = LEAF_TOP[world.requests.intent.leaf[d.request_ids]]
    day = world.requests.day[d.request_ids]
    new = (world.items.listed_day[np.maximum(d.shown, 0)] >= day[:, None] - NEW_ITEM_DAYS)
    slices = {f"modality={m}": (modality == i, all_slots) for i, m in enumerate(MODALITIES)}
    slices |= {f"category={c}": (top == i, all_slots) for i, c in enumerate(TOP_CATEGORIES)}
    return slices | {"item_age=new": (every, new), "item_age=established": (every, ~new)}


def outcome_sums(world: World, results: dict[int, DayResult], ranks: dist.Ranks | None = None) -> OutcomeSums:
    """Every metric over all served days, per day (when several), and per slice, summed over the
    `ranks` that served them."""
    n_users = len(world.users.user_id)
    d = DayResult.concat(list(results.values())) if len(results) > 1 else next(iter(results.values()))
    days = {day: ratio_sums(r, n_users) for day, r in results.items()} if len(results) > 1 else {}
    slices = {name: sliced(d, req, slot, n_users) for name, (req, slot) in slice_masks(world, d).items()}
    sums = OutcomeSums(overall=ratio_sums(d, n_users), days=days, slices=slices)
    del d, days, slices
    if (ranks or dist.ranks()).world == 1:
        return sums
    flat = sums.flat()
    del sums  # so that summed_flat's copy replaces the per-rank sums rather than doubling them
    return OutcomeSums.from_flat(summed_flat(flat, ranks))
