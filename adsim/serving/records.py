"""What one served batch leaves behind: per-request outcome arrays (`DayResult`) for the
experiment's statistics, and the impression, request and candidate log frames.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import polars as pl

from adsim.core.tables import concat_tables
from adsim.core.vocab import MODALITIES
from adsim.serving.system import SystemPass
from adsim.serving.users import CandidateTruth, Reaction
from stages.interfaces import QueryBatch
from stages.retrieval import CHANNELS


@dataclass
class DayResult:
    """Per-request outcome arrays of one (arm, day), aligned with `request_ids`."""

    request_ids: np.ndarray
    user_ids: np.ndarray
    shown: np.ndarray           # int32 (R, K) item ids, -1 empty
    slot_click: np.ndarray      # bool (R, K)
    slot_revenue: np.ndarray    # float32 (R, K)
    clicks: np.ndarray          # int (R,)
    revenue: np.ndarray         # float (R,)
    relevant_shown: np.ndarray  # int (R,)
    n_shown: np.ndarray         # int (R,)
    relevant_retrieved: np.ndarray
    relevant_reachable: np.ndarray  # ground truth: min(relevant items listed that day, top_n)
    target_retrieved: np.ndarray  # bool (R,): the user's target item was among the candidates
    purchases: np.ndarray
    slot_true_ctr: np.ndarray   # float32 (R, K): P(click) of each shown ad in its slot (0 where empty), analysis only
    slot_price: np.ndarray      # float32 (R, K): the GSP price a click would pay (0 where empty)

    def expected_clicks(self) -> np.ndarray:
        """(R,) clicks each request should get in expectation: the sum of its shown ads' P(click)."""
        return self.slot_true_ctr.sum(1, dtype=np.float64)

    def expected_revenue(self) -> np.ndarray:
        """(R,) revenue in expectation: P(click) x the price a click pays, summed over the slots."""
        return (self.slot_true_ctr.astype(np.float64) * self.slot_price).sum(1)

    @classmethod
    def concat(cls, parts: list["DayResult"]) -> "DayResult":
        """Batches (or days) one after another."""
        return concat_tables(parts)

    @classmethod
    def empty(cls, n_slots: int) -> "DayResult":
        """No requests (a rank with no batch of a day), with the dtypes `BatchRecord.result` gives."""
        per_slot = {"shown": np.int32, "slot_click": bool, "slot_revenue": np.float32, "slot_true_ctr": np.float32,
                    "slot_price": np.float32}
        per_request = {"request_ids": np.int64, "user_ids": np.int32, "revenue": np.float32, "target_retrieved": bool}
        return cls(**{f.name: np.zeros((0, n_slots), per_slot[f.name]) if f.name in per_slot
                      else np.zeros(0, per_request.get(f.name, np.int64)) for f in dataclasses.fields(cls)})


@dataclass(frozen=True)
class BatchRecord:
    """Everything known about one served batch: the requests, the system's pass, the users'
    reaction and the ground truth of the candidates."""

    day: int
    arm: str
    reserve: float
    queries: QueryBatch
    served: SystemPass
    reaction: Reaction
    truth: CandidateTruth
    relevant_total: np.ndarray  # (R,) relevant items listed that day, per request

    def result(self, top_n: int) -> DayResult:
        """The batch's slice of the day's per-request outcomes."""
        s, r, filled = self.served, self.reaction, self.served.filled
        return DayResult(
            request_ids=self.queries.request_id, user_ids=self.queries.user_id, shown=s.shown.astype(np.int32),
            slot_click=r.click, slot_revenue=r.revenue, clicks=r.click.sum(1), revenue=r.revenue.sum(1),
            relevant_shown=((r.grade_shown >= 2) & filled).sum(1), n_shown=filled.sum(1),
            relevant_retrieved=((self.truth.grade >= 2) & s.candidates.valid).sum(1),
            relevant_reachable=np.minimum(self.relevant_total, top_n), target_retrieved=self.truth.target_retrieved,
            purchases=r.purchase.sum(1), slot_true_ctr=np.where(filled, r.true_ctr, 0).astype(np.float32),
            slot_price=np.where(filled, s.auction.price, 0).astype(np.float32))


def _modality_series(codes: np.ndarray) -> pl.Series:
    return pl.Series(np.asarray(MODALITIES)[codes], dtype=pl.Enum(list(MODALITIES)))


def impressions_frame(b: BatchRecord, advertiser_id: np.ndarray, bid: np.ndarray) -> pl.DataFrame:
    """One row per filled slot (the impression log)."""
    q, s, x = b.queries, b.served, b.reaction
    r, k = np.nonzero(s.filled)
    item = s.shown[r, k]
    return pl.DataFrame({
        "request_id": q.request_id[r], "day": np.full(len(r), b.day, np.int16), "arm": b.arm,
        "user_id": q.user_id[r], "query_modality": _modality_series(q.modality[r]), "item_id": item,
        "advertiser_id": advertiser_id[item], "position": k.astype(np.int8), "bid": bid[item],
        "pctr": s.shown_pctr[r, k], "rank_score": s.auction.rank_score[r, k],
        "price": s.auction.price[r, k], "reserve": np.full(len(r), b.reserve, np.float32),
        "true_relevance": x.grade_shown[r, k], "true_ctr": x.true_ctr[r, k], "click": x.click[r, k],
        "purchase": x.purchase[r, k], "revenue": x.revenue[r, k],
    })


def requests_frame(b: BatchRecord, result: DayResult) -> pl.DataFrame:
    """One row per request (the request log)."""
    q = b.queries
    n = len(q)
    return pl.DataFrame({
        "request_id": q.request_id, "day": np.full(n, b.day, np.int16), "arm": b.arm, "user_id": q.user_id,
        "query_modality": _modality_series(q.modality), "n_retrieved": b.served.candidates.valid.sum(1),
        "n_relevant_retrieved": result.relevant_retrieved, "n_after_relevance": (b.served.kept.items >= 0).sum(1),
        "n_shown": result.n_shown, "clicks": result.clicks, "revenue": result.revenue, "n_relevant_total": b.relevant_total,
    })


def candidates_frame(b: BatchRecord) -> pl.DataFrame:
    """One row per retrieved candidate, with what the relevance and ranking stages made of it."""
    cands, kept = b.served.candidates, b.served.kept
    valid = cands.valid
    passed = np.zeros(valid.shape, dtype=bool)
    pctr = np.full(valid.shape, np.nan, dtype=np.float32)
    rows = np.nonzero(kept.columns >= 0)
    passed[rows[0], kept.columns[rows]] = True
    pctr[rows[0], kept.columns[rows]] = b.served.pctr[rows]
    r, c = np.nonzero(valid)
    return pl.DataFrame({
        "request_id": b.queries.request_id[r], "day": np.full(len(r), b.day, np.int16), "arm": b.arm,
        "item_id": cands.item[r, c], "channel": np.asarray(CHANNELS)[cands.channel[r, c]],
        "retrieval_score": cands.score[r, c], "relevance_score": kept.score[r, c],
        "passed_relevance": passed[r, c], "pctr": pctr[r, c], "true_relevance": b.truth.grade[r, c],
    })
