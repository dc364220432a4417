"""The serving loop: a day of requests, in batches, through an arm's system, then its users.

Per batch: the requests as the system sees them (`QueryBatch`), the system's pass (retrieval ->
filter -> ranker -> auction, adsim.serving.system, no ground truth), the users' reaction and the
ground truth of the candidates (adsim.serving.users), billing, then the per-request outcomes and
the log frames (adsim.serving.records). Everything is vectorised within a batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from adsim.core.runtime import dist
from adsim.core.config import ClickConfig, EngineConfig
from adsim.core.errors import DataError
from adsim.core.tables import take
from adsim.serving.logs import clear_logs, write_log
from adsim.serving.records import BatchRecord, DayResult, candidates_frame, impressions_frame, requests_frame
from adsim.serving.system import ArmSystem
from adsim.serving.timer import NoTimer, StageTimer
from adsim.serving.users import judge_candidates, react
from adsim.truth.relevant_counts import RelevantCounter
from adsim.world.build import World
from stages.auction import charge
from stages.interfaces import QueryBatch


@dataclass(eq=False)
class DayContext:
    """What one (arm, day) of serving shares across its batches."""

    world: World
    system: ArmSystem
    day: int
    seq: np.ndarray      # (n_users, L) behaviour sequences as logged by this day's morning
    run_dir: Path
    arm: str             # the arm's name in the logs
    clicks: ClickConfig
    engine: EngineConfig
    timer: StageTimer = field(default_factory=NoTimer)
    spent: np.ndarray = field(init=False)  # advertisers' spend so far today

    def __post_init__(self) -> None:
        self.spent = np.zeros(len(self.world.advertisers.daily_budget), dtype=np.float64)

    def queries(self, ids: np.ndarray) -> QueryBatch:
        """Requests `ids` as the system receives them, with the arm's query embeddings."""
        req = self.world.requests
        with self.timer.stage("query_embedding"):
            emb = self.system.embeddings.query_embeddings(ids)
        user = req.user_id[ids]
        return QueryBatch(request_id=ids, user_id=user, modality=req.modality[ids], text=req.query_text[ids],
                          embedding=emb, behaviour=self.seq[user])


def serve_batch(ctx: DayContext, ids: np.ndarray, relevant_total: np.ndarray) -> BatchRecord:
    """One batch end to end: the system's pass, the users' reaction, billing."""
    w, timer, system = ctx.world, ctx.timer, ctx.system
    queries = ctx.queries(ids)
    served = system.serve(queries, ctx.day, ctx.spent, w.advertisers.daily_budget, timer)
    intents = take(w.requests.intent, ids)
    with timer.stage("ground_truth"):
        truth = judge_candidates(w, intents, served)
    with timer.stage("clicks"):
        reaction = react(w, ids, queries.user_id, intents, served, ctx.clicks, system.click_stream)
        sold = np.maximum(served.shown, 0)[reaction.click]
        charge(ctx.spent, w.items.advertiser_id[sold], reaction.revenue[reaction.click])
    return BatchRecord(day=ctx.day, arm=ctx.arm, reserve=system.auction.reserve, queries=queries, served=served,
                       reaction=reaction, truth=truth, relevant_total=relevant_total)


def serve_day(world: World, system: ArmSystem, day: int, seq: np.ndarray, run_dir: str | Path,
              clicks: ClickConfig, engine: EngineConfig, log_arm: str | None = None,
              timer: StageTimer | None = None, ranks: dist.Ranks | None = None) -> DayResult:
    """Serve every request of `day` with `system`, write its logs, return per-request outcomes.
    Under torchrun each rank serves every world-th batch and returns its own requests' outcomes;
    after each round of batches the ranks add up what advertisers spent, so budgets bind on the
    day's whole traffic (one round late). `ranks`: who serves the day (default: every rank;
    `Ranks.solo()` when this rank serves it alone)."""
    ctx = DayContext(world=world, system=system, day=day, seq=seq, run_dir=Path(run_dir), arm=log_arm or system.name,
                     clicks=clicks, engine=engine, timer=timer or NoTimer())
    req_ids = world.requests.request_id[world.requests.day == day]
    if len(req_ids) == 0:
        raise DataError(f"day {day} has no requests")
    me = ranks or dist.ranks()
    system.embeddings.retriever(day)  # index build is set-up, not serving
    if me.main:
        clear_logs(run_dir, ctx.arm, day)
    dist.barrier(me)
    with ctx.timer.stage("ground_truth"):
        counter = RelevantCounter(world.items, world.items.listed_day <= day)
    n_parts = -(-len(req_ids) // engine.batch_size)
    parts: list[DayResult] = []
    for first in range(0, n_parts, me.world):  # one round: a batch for each rank
        part, spent_before = first + me.rank, ctx.spent.copy() if me.world > 1 else None
        if part < n_parts:
            parts.append(_serve_part(ctx, part, req_ids[part * engine.batch_size:(part + 1) * engine.batch_size], counter))
        if spent_before is not None:
            ctx.spent = spent_before + dist.all_sum(ctx.spent - spent_before, me)
    dist.barrier(me)  # every rank's logs of the day are written
    return DayResult.concat(parts) if parts else DayResult.empty(ctx.system.auction.n_slots)


def _serve_part(ctx: DayContext, part: int, ids: np.ndarray, counter: RelevantCounter) -> DayResult:
    """Batch number `part` of the day: served, logged, and its per-request outcomes."""
    w = ctx.world
    with ctx.timer.stage("ground_truth"):
        relevant_total = counter.counts(take(w.requests.intent, ids))
    record = serve_batch(ctx, ids, relevant_total)
    result = record.result(ctx.system.embeddings.retrieval.top_n)
    with ctx.timer.stage("logging"):
        write_log(ctx.run_dir, "impressions", impressions_frame(record, w.items.advertiser_id, w.items.bid), part=part)
        write_log(ctx.run_dir, "requests", requests_frame(record, result), part=part)
        if ctx.engine.log_candidates:
            write_log(ctx.run_dir, "candidates", candidates_frame(record), part=part)
    return result
