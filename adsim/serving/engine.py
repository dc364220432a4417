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

from adsim.core.config import ClickConfig, EngineConfig
from adsim.core.errors import DataError
from adsim.core.tables import take
from adsim.serving.logs import clear_logs, write_log
from adsim.serving.records import BatchRecord, DayResult, candidates_frame, impressions_frame, requests_frame
from adsim.serving.system import ArmSystem
from adsim.serving.timer import NoTimer, StageTimer
from adsim.serving.users import judge_candidates, react
from adsim.truth.ground_truth import relevant_counts
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
        reaction = react(w, ids, queries.user_id, intents, served, ctx.clicks.position_decay, system.click_stream)
        sold = np.maximum(served.shown, 0)[reaction.click]
        charge(ctx.spent, w.items.advertiser_id[sold], reaction.revenue[reaction.click])
    return BatchRecord(day=ctx.day, arm=ctx.arm, reserve=system.auction.reserve, queries=queries, served=served,
                       reaction=reaction, truth=truth, relevant_total=relevant_total)


def serve_day(world: World, system: ArmSystem, day: int, seq: np.ndarray, run_dir: str | Path,
              clicks: ClickConfig, engine: EngineConfig, log_arm: str | None = None,
              timer: StageTimer | None = None) -> DayResult:
    """Serve every request of `day` with `system`, write its logs, return per-request outcomes."""
    ctx = DayContext(world=world, system=system, day=day, seq=seq, run_dir=Path(run_dir), arm=log_arm or system.name,
                     clicks=clicks, engine=engine, timer=timer or NoTimer())
    req_ids = world.requests.request_id[world.requests.day == day]
    if len(req_ids) == 0:
        raise DataError(f"day {day} has no requests")
    system.embeddings.retriever(day)  # index build is set-up, not serving
    clear_logs(run_dir, ctx.arm, day)
    with ctx.timer.stage("ground_truth"):
        available = world.items.listed_day <= day
        relevant_total = relevant_counts(take(world.requests.intent, req_ids), world.items, available)
    parts: list[DayResult] = []
    for part, start in enumerate(range(0, len(req_ids), engine.batch_size)):
        batch = slice(start, start + engine.batch_size)
        record = serve_batch(ctx, req_ids[batch], relevant_total[batch])
        result = record.result(system.embeddings.retrieval.top_n)
        with ctx.timer.stage("logging"):
            write_log(run_dir, "impressions", impressions_frame(record, world.items.advertiser_id, world.items.bid), part=part)
            write_log(run_dir, "requests", requests_frame(record, result), part=part)
            if engine.log_candidates:
                write_log(run_dir, "candidates", candidates_frame(record), part=part)
        parts.append(result)
    return DayResult.concat(parts)
