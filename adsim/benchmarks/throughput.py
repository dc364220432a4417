"""`adsim bench`: serving throughput end to end and per stage, for a few catalogue sizes.

Stage models are untrained (same arithmetic as trained ones). Each stage's arithmetic (FLOPs of
the ANN search and of the relevance and ranker forwards) is divided by its time and by a dense
matrix-multiply rate measured in the same run, so figures read as a fraction of what the
machine can do rather than as seconds on one noisy machine.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from adsim.core.runtime import dist
from adsim.core.config import ExperimentConfig
from adsim.core.runtime.device import describe, torch_device
from adsim.core.files import write_json
from adsim.core.vocab import N_MODALITIES
from adsim.runs.protocol import arm_encoder_args, logged_sequences
from adsim.reports.bench_report import BenchReport, BenchRun
from adsim.serving.engine import serve_day
from adsim.serving.system import ArmEmbeddings, ArmSystem
from adsim.serving.timer import StageTimer
from adsim.world.build import World, build_world
from encoders.registry import make_provider
from stages.filters import RelevanceFilter
from stages.ranker.model import CtrModel
from stages.ranker.features import RankerFeatures, TableSizes
from stages.relevance import RelevanceModel
from stages.retrieval import recall_against_exact

CATALOGUE_SCALES = (0.25, 0.5, 1.0)
RECALL_QUERIES = 1000  # day-1 queries whose ANN results are checked against exact search


def matmul_rate(n: int = 1024, repeats: int = 10) -> float:
    """Dense float32 matmul FLOP/s on the serving device."""
    dev = torch_device()
    a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
    a @ b
    if dev.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return 2 * n ** 3 * repeats / (time.perf_counter() - start)


def stage_flops(cfg: ExperimentConfig, n_requests: int, n_items: int, dim: int, candidates_ranked: int,
                candidates_scored: int) -> dict[str, float]:
    """Multiply-adds x 2 of the vectorised stages (ANN as exact inner products over the catalogue;
    the i2i neighbour table is built with the index, so it is set-up, not serving)."""
    ann = 2.0 * dim * n_items * n_requests
    h = cfg.relevance.hidden
    rel_in = dim + 3 + N_MODALITIES
    relevance = 2.0 * candidates_scored * (rel_in * h + h * h + h)
    k = cfg.ranker
    d, seq = k.embedding_dim, k.seq_len
    mlp_in = 9 * d + N_MODALITIES + (2 * d + k.histogram_bins + 3 if k.use_embeddings else 0)
    per_pair = (mlp_in * k.hidden + k.hidden * k.hidden // 2 + k.hidden // 2  # MLP
                + 2 * seq * 2 * d + (2 * d) ** 2                                # target attention
                + (2 * seq * dim + 2 * dim * d if k.use_embeddings else 0))     # MOON similarities, projections
    ranking = 2.0 * candidates_ranked * per_pair
    return {"retrieval": ann, "relevance": relevance, "ranking": ranking}


def bench_system(world: World, cfg: ExperimentConfig) -> ArmSystem:
    """The control arm's system with untrained models (their arithmetic is that of trained ones)."""
    spec = cfg.arms["control"]
    items = world.view.items
    args = arm_encoder_args("control", spec.encoder, spec.encoder_args)
    emb = ArmEmbeddings.of("bench", make_provider(spec.encoder, args, world), items, cfg.retrieval)
    relevance = RelevanceModel(cfg.relevance, emb.dim, cfg.seed).deploy()
    sizes = TableSizes(len(world.users.user_id), len(items.item_id), len(world.advertisers.advertiser_id),
                       len(world.brands.brand_id), int(items.leaf.max()) + 1)
    ranker = CtrModel(cfg.ranker, sizes, RankerFeatures(items.advertiser_id, items.brand, items.leaf, emb.item_emb),
                      cfg.auction.n_slots, cfg.seed).deploy()
    return ArmSystem(name="bench", embeddings=emb, candidate_filter=RelevanceFilter(relevance, emb.item_emb, cfg.relevance),
                     ranker=ranker, auction=cfg.auction)


def bench_run(cfg: ExperimentConfig, scale: float, rate: float) -> BenchRun:
    """Serve day 1 at `scale` times the config's catalogue, timing every stage. The day's retrieval
    index (and its i2i neighbour table) is built before the clock starts and timed on its own: a
    real system builds it offline, once a day, whatever the day's traffic."""
    n_items = max(100, int(cfg.world.n_items * scale))
    c = dataclasses.replace(cfg, world=dataclasses.replace(cfg.world, n_items=n_items))
    world = build_world(c)
    system = bench_system(world, c)
    timer, seq = StageTimer(), logged_sequences(world, c.world.seq_len)
    start = time.perf_counter()
    retriever = system.embeddings.retriever(1)  # the day's index and i2i table: set-up, built once a day
    index_s = time.perf_counter() - start
    sample = np.flatnonzero(world.requests.day == 1)[:RECALL_QUERIES]
    recall = recall_against_exact(retriever.ann, system.embeddings.item_emb,
                                  system.embeddings.query_embeddings(sample), c.retrieval.query_quota)
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = dist.shared_dir(tmp)  # under torchrun, every rank logs into rank 0's folder
        dist.barrier()
        start = time.perf_counter()
        result = serve_day(world, system, 1, seq, run_dir, c.clicks, c.engine, timer=timer)
        total = time.perf_counter() - start  # serve_day ends when every rank is done
    mine = len(result.request_ids)
    n_req = int(dist.all_sum(np.array([mine]))[0])  # every rank's requests, in the same wall time
    available = int((world.items.listed_day <= 1).sum())
    # Per-stage figures are this rank's: its requests, its arithmetic, its time.
    flops = stage_flops(c, mine, available, system.embeddings.dim, mine * c.relevance.max_candidates, mine * c.retrieval.top_n)
    return BenchRun(n_items=n_items, n_requests=n_req, seconds=total, index_seconds=index_s, requests_per_s=n_req / total,
                    ranks=dist.ranks().world, ann_recall=recall, stage_seconds=dict(timer.seconds), stage_flops=flops,
                    stage_fraction_of_matmul={s: flops[s] / timer.seconds[s] / rate for s in flops if timer.seconds[s] > 0})


def bench(cfg: ExperimentConfig, out_dir: str | Path, log: Callable[[str], None] = print) -> BenchReport:
    """Throughput at each of CATALOGUE_SCALES; writes report.json under `out_dir`."""
    rate = matmul_rate()
    log(f"device: {describe()}; matmul rate {rate / 1e9:.1f} GFLOP/s")
    runs = []
    for scale in CATALOGUE_SCALES:
        runs.append(bench_run(cfg, scale, rate))
        log(runs[-1].line())
    report = BenchReport(device=describe(), matmul_flops_per_s=rate, batch_size=cfg.engine.batch_size, runs=runs)
    if dist.ranks().main:
        write_json(report.to_json(), Path(out_dir) / "report.json")
    return report
