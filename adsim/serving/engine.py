"""The serving loop: request batches through retrieval -> relevance -> ranking -> auction ->
click simulation, vectorised within each batch, writing impression/request/candidate logs.

The stages see only what a real ad system has: request ids, user ids, query text, the arm's
query and item embeddings, catalogue metadata, bids and logged behaviour. Ground truth enters
only after the auction, to simulate the user's clicks and to annotate logs for analysis.
"""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import polars as pl

from adsim.truth.clicks import simulate_outcomes
from adsim.core.config import AuctionConfig, ClickConfig, EngineConfig, RelevanceConfig, RetrievalConfig
from adsim.core.vocab import MODALITIES
from adsim.core.errors import DataError
from adsim.truth.ground_truth import click_probability, purchase_probability, relevance
from adsim.serving.logs import write_log
from adsim.experiments.model_metrics import relevant_counts
from adsim.core.rng import box_muller, uniform
from adsim.core.tables import take
from adsim.world.build import World
from encoders.provider import EmbeddingProvider, check_embeddings
from stages.auction import AuctionResult, budget_eligible, charge, run_gsp
from stages.ranker import CtrModel
from stages.relevance import RelevanceModel, pair_features
from stages.retrieval import CHANNELS, Candidates, Retriever


@dataclass
class ArmSystem:
    """One arm's serving system: its embeddings and its trained stages (None = bootstrap rules)."""

    name: str
    provider: EmbeddingProvider
    item_emb: np.ndarray  # (n_items, dim), validated
    retrieval: RetrievalConfig
    relevance_cfg: RelevanceConfig
    auction: AuctionConfig
    relevance: RelevanceModel | None = None
    ranker: CtrModel | None = None
    exploration: float = 0.0  # bootstrap only: log-normal noise on the prior pCTR
    click_stream: int = 0     # which stream of common random numbers its users' clicks draw from
    _retrievers: dict[int, Retriever] = field(default_factory=dict, repr=False)

    def retriever(self, world: World, day: int) -> Retriever:
        """The retrieval stage over the items listed by `day` (built once per day)."""
        if day not in self._retrievers:
            available = world.items.listed_day <= day
            if not available.any():
                raise DataError(f"day {day}: no items are listed yet, the catalogue is empty")
            self._retrievers[day] = Retriever(self.item_emb, world.items.title, available, self.retrieval)
        return self._retrievers[day]

    def query_embeddings(self, request_ids: np.ndarray) -> np.ndarray:
        """(R, dim) query embeddings; each distinct request is embedded once (label queues repeat them)."""
        uniq, inverse = np.unique(request_ids, return_inverse=True)
        if not len(uniq):
            return np.zeros((0, self.provider.dim), dtype=np.float32)
        emb = check_embeddings(self.provider.query_embeddings(uniq), len(uniq), self.provider.dim, f"{self.name}: query embeddings")
        return emb[inverse]


def make_arm_system(name: str, provider: EmbeddingProvider, world: World, retrieval: RetrievalConfig,
                    relevance_cfg: RelevanceConfig, auction: AuctionConfig, exploration: float = 0.0,
                    click_stream: int = 0) -> ArmSystem:
    """An untrained system for `provider`, with its item embeddings checked against the catalogue."""
    item_emb = check_embeddings(provider.item_embeddings(), len(world.items.item_id), provider.dim,
                                f"{name}: item embeddings")
    return ArmSystem(name=name, provider=provider, item_emb=item_emb, retrieval=retrieval,
                     relevance_cfg=relevance_cfg, auction=auction, exploration=exploration, click_stream=click_stream)


class StageTimer:
    """Accumulates wall time per stage across batches (for `adsim bench`)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.seconds[name] += time.perf_counter() - start


class _NoTimer(StageTimer):
    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        yield


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

    @classmethod
    def concat(cls, parts: list["DayResult"]) -> "DayResult":
        """Batches (or days) one after another."""
        return cls(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class CandidateTrace:
    """What each stage did with a batch's candidates, (R, N) arrays over retrieval columns."""

    cands: Candidates
    true_grade: np.ndarray  # ground-truth grade of each retrieved candidate (analysis only)
    keep_cols: np.ndarray   # (R, M) retrieval columns kept for ranking, -1 pads
    kept: np.ndarray        # (R, M) their item ids
    rel_score: np.ndarray   # relevance score of each retrieved candidate
    pctr: np.ndarray        # (R, M) ranker score of each kept candidate


@dataclass(frozen=True)
class ServedBatch:
    """What a batch of R requests was shown and how its users reacted, (R, n_slots) arrays."""

    ids: np.ndarray
    user: np.ndarray
    modality: np.ndarray
    day: int
    arm: str
    shown: np.ndarray       # item ids, -1 for empty slots
    shown_pctr: np.ndarray
    auction: AuctionResult
    reserve: float
    true_ctr: np.ndarray
    click: np.ndarray
    purchase: np.ndarray
    revenue: np.ndarray
    grade_shown: np.ndarray

    @property
    def filled(self) -> np.ndarray:
        return self.shown >= 0


def click_seed(seed: int, stream: int) -> int:
    """Stream 0 is the shared CRN stream; other streams give independent draws (A/A checks)."""
    return seed if stream == 0 else (seed * 1_000_003 + stream * 7919) % (1 << 62)


def filter_and_truncate(scores: np.ndarray, valid: np.ndarray, threshold: float, keep: int) -> np.ndarray:
    """Column indices (R, keep) of the best-scoring candidates at or above `threshold`; -1 pads."""
    masked = np.where(valid & (scores >= threshold), scores, -np.inf)
    k = min(keep, masked.shape[1])
    order = np.argsort(-masked, axis=1, kind="stable")[:, :k]
    ok = np.isfinite(np.take_along_axis(masked, order, 1))
    return np.where(ok, order, -1)


def prior_pctr(seed: int, request_ids: np.ndarray, items: np.ndarray, similarity: np.ndarray, exploration: float) -> np.ndarray:
    """Bootstrap ranker: a similarity-based prior with log-normal exploration noise (CRN-keyed)."""
    u1 = uniform(seed, "explore-1", request_ids[:, None], np.maximum(items, 0))
    u2 = uniform(seed, "explore-2", request_ids[:, None], np.maximum(items, 0))
    z = box_muller(u1, u2)
    base = 1 / (1 + np.exp(-(-5.0 + 8.0 * similarity)))
    return np.where(items >= 0, base * np.exp(exploration * z - exploration ** 2 / 2), 0).astype(np.float32)


def serve_day(world: World, system: ArmSystem, day: int, seq: np.ndarray, run_dir: str | Path,
              clicks: ClickConfig, engine: EngineConfig, log_arm: str | None = None,
              timer: StageTimer | None = None) -> DayResult:
    """Serve every request of `day` with `system`, write its logs, return per-request outcomes."""
    arm = log_arm or system.name
    req_ids = world.requests.request_id[world.requests.day == day]
    if len(req_ids) == 0:
        raise DataError(f"day {day} has no requests")
    available = world.items.listed_day <= day
    timer = timer or _NoTimer()
    budget = world.advertisers.daily_budget
    spent = np.zeros(len(budget), dtype=np.float64)
    system.retriever(world, day)  # index build is set-up, not serving
    with timer.stage("ground_truth"):
        relevant_total = relevant_counts(world, req_ids, available)
    parts: list[DayResult] = []
    for part, start in enumerate(range(0, len(req_ids), engine.batch_size)):
        ids = req_ids[start:start + engine.batch_size]
        result, frames = serve_batch(world, system, ids, seq, spent, budget, clicks, engine.log_candidates, arm, day,
                                     relevant_total[start:start + engine.batch_size], timer)
        with timer.stage("logging"):
            for table, frame in frames.items():
                write_log(run_dir, table, frame, part=part)
        parts.append(result)
    return DayResult.concat(parts)


def serve_batch(world: World, system: ArmSystem, ids: np.ndarray, seq: np.ndarray, spent: np.ndarray,
                budget: np.ndarray, clicks: ClickConfig, log_candidates: bool, arm: str, day: int,
                relevant_total: np.ndarray, timer: StageTimer | None = None):
    """One batch end to end. Returns its DayResult slice and its log frames."""
    timer = timer or _NoTimer()
    req, items = world.requests, world.items
    user = req.user_id[ids]
    modality = req.modality[ids]
    texts = req.query_text[ids]
    with timer.stage("query_embedding"):
        q = system.query_embeddings(ids)
    retriever = system.retriever(world, day)

    with timer.stage("retrieval"):
        cands: Candidates = retriever(q, seq[user][:, -system.retrieval.i2i_recent:], texts)
    valid = cands.valid
    intents = take(req.intent, ids)
    with timer.stage("ground_truth"):
        true_grade = np.where(valid, relevance(intents, items, np.maximum(cands.item, 0)), 0)

    with timer.stage("relevance"):
        keep_cols, rel_score = _relevance_stage(system, retriever, q, texts, cands, modality, len(ids))
    kept = np.where(keep_cols >= 0, np.take_along_axis(cands.item, np.maximum(keep_cols, 0), 1), -1)

    with timer.stage("ranking"):
        if system.ranker is not None:
            pctr = system.ranker.score(user, modality, q, kept)
        else:
            sim = np.einsum("rd,rcd->rc", q, system.item_emb[np.maximum(kept, 0)])
            pctr = prior_pctr(world.seed, ids, kept, sim, system.exploration)

    with timer.stage("auction"):
        advertiser = items.advertiser_id[np.maximum(kept, 0)]
        eligible = (kept >= 0) & budget_eligible(advertiser, spent, budget)
        auc_cfg = system.auction
        result = run_gsp(items.bid[np.maximum(kept, 0)], pctr, eligible, auc_cfg.n_slots, auc_cfg.alpha, auc_cfg.reserve)
    filled = result.filled
    col = np.maximum(result.winner, 0)
    shown = np.where(filled, np.take_along_axis(kept, col, 1), -1)
    shown_pctr = np.take_along_axis(pctr, col, 1)

    # Users react (ground truth, common random numbers)
    with timer.stage("clicks"):
        safe = np.maximum(shown, 0)
        position = np.broadcast_to(np.arange(shown.shape[1]), shown.shape)
        true_ctr = click_probability(world.users, user, intents, items, safe, position, clicks.position_decay)
        p_buy = purchase_probability(world.users, user, intents, items, safe)
        out = simulate_outcomes(click_seed(world.seed, system.click_stream), ids[:, None], safe, position, true_ctr, p_buy)
        click = out.click & filled
        purchase = out.purchase & filled
        revenue = np.where(click, result.price, 0.0).astype(np.float32)
        charge(spent, items.advertiser_id[safe][click], revenue[click])
        grade_shown = np.where(filled, relevance(intents, items, safe), 0)
    served = ServedBatch(ids=ids, user=user, modality=modality, day=day, arm=arm, shown=shown, shown_pctr=shown_pctr,
                         auction=result, reserve=auc_cfg.reserve, true_ctr=true_ctr, click=click, purchase=purchase,
                         revenue=revenue, grade_shown=grade_shown)
    trace = CandidateTrace(cands=cands, true_grade=true_grade, keep_cols=keep_cols, kept=kept, rel_score=rel_score, pctr=pctr)
    day_result = DayResult(
        request_ids=ids, user_ids=user, shown=shown.astype(np.int32), slot_click=click, slot_revenue=revenue,
        clicks=click.sum(1), revenue=revenue.sum(1),
        relevant_shown=((grade_shown >= 2) & filled).sum(1), n_shown=filled.sum(1),
        relevant_retrieved=((true_grade >= 2) & valid).sum(1),
        relevant_reachable=np.minimum(relevant_total, system.retrieval.top_n),
        target_retrieved=(cands.item == intents.target[:, None]).any(1), purchases=purchase.sum(1))
    with timer.stage("logging"):
        frames = {"impressions": impressions_frame(items, served),
                  "requests": requests_frame(served, trace, day_result, relevant_total)}
        if log_candidates:
            frames["candidates"] = candidates_frame(served, trace)
    return day_result, frames


def _relevance_stage(system: ArmSystem, retriever: Retriever, q, texts, cands: Candidates, modality, n: int):
    """Candidate columns kept for ranking, and relevance scores (bootstrap: retrieval order)."""
    rcfg = system.relevance_cfg
    valid = cands.valid
    if system.relevance is not None:
        feats = pair_features(q, system.item_emb, texts, cands.item, modality, retriever.lexical)
        rel_score = system.relevance.score(feats).reshape(cands.item.shape)
        keep_cols = filter_and_truncate(rel_score, valid, rcfg.threshold, rcfg.max_candidates)
    else:
        rel_score = np.ones(cands.item.shape, dtype=np.float32)
        order = -np.arange(cands.item.shape[1], dtype=np.float32)[None].repeat(n, 0)
        keep_cols = filter_and_truncate(order, valid, -np.inf, rcfg.max_candidates)
    return keep_cols, rel_score


def _modality_series(codes: np.ndarray) -> pl.Series:
    return pl.Series(np.asarray(MODALITIES)[codes], dtype=pl.Enum(list(MODALITIES)))


def impressions_frame(items, served: ServedBatch) -> pl.DataFrame:
    """One row per filled slot (the impression log)."""
    r, k = np.nonzero(served.filled)
    item = served.shown[r, k]
    return pl.DataFrame({
        "request_id": served.ids[r], "day": np.full(len(r), served.day, np.int16), "arm": served.arm,
        "user_id": served.user[r], "query_modality": _modality_series(served.modality[r]), "item_id": item,
        "advertiser_id": items.advertiser_id[item], "position": k.astype(np.int8), "bid": items.bid[item],
        "pctr": served.shown_pctr[r, k], "rank_score": served.auction.rank_score[r, k],
        "price": served.auction.price[r, k], "reserve": np.full(len(r), served.reserve, np.float32),
        "true_relevance": served.grade_shown[r, k], "true_ctr": served.true_ctr[r, k], "click": served.click[r, k],
        "purchase": served.purchase[r, k], "revenue": served.revenue[r, k],
    })


def requests_frame(served: ServedBatch, trace: CandidateTrace, result: DayResult, relevant_total: np.ndarray) -> pl.DataFrame:
    """One row per request (the request log)."""
    n = len(served.ids)
    return pl.DataFrame({
        "request_id": served.ids, "day": np.full(n, served.day, np.int16), "arm": served.arm, "user_id": served.user,
        "query_modality": _modality_series(served.modality), "n_retrieved": trace.cands.valid.sum(1),
        "n_relevant_retrieved": result.relevant_retrieved, "n_after_relevance": (trace.kept >= 0).sum(1),
        "n_shown": result.n_shown, "clicks": result.clicks, "revenue": result.revenue, "n_relevant_total": relevant_total,
    })


def candidates_frame(served: ServedBatch, trace: CandidateTrace) -> pl.DataFrame:
    """One row per retrieved candidate, with what the relevance and ranking stages made of it."""
    cands = trace.cands
    valid = cands.valid
    passed = np.zeros(valid.shape, dtype=bool)
    pctr = np.full(valid.shape, np.nan, dtype=np.float32)
    rows = np.nonzero(trace.keep_cols >= 0)
    passed[rows[0], trace.keep_cols[rows]] = True
    pctr[rows[0], trace.keep_cols[rows]] = trace.pctr[rows]
    r, c = np.nonzero(valid)
    return pl.DataFrame({
        "request_id": served.ids[r], "day": np.full(len(r), served.day, np.int16), "arm": served.arm,
        "item_id": cands.item[r, c], "channel": np.asarray(CHANNELS)[cands.channel[r, c]],
        "retrieval_score": cands.score[r, c], "relevance_score": trace.rel_score[r, c],
        "passed_relevance": passed[r, c], "pctr": pctr[r, c], "true_relevance": trace.true_grade[r, c],
    })
