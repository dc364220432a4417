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

import torch

from adsim.core.config import ExperimentConfig
from adsim.core.vocab import N_MODALITIES
from adsim.core.device import describe, torch_device
from adsim.serving.engine import StageTimer, make_arm_system, serve_day
from adsim.core.files import write_json
from stages.sequences import left_padded
from adsim.world.build import build_world
from encoders.registry import make_provider
from stages.ranker import CtrModel, RankerFeatures, TableSizes
from stages.relevance import RelevanceModel

CATALOGUE_SCALES = (0.25, 0.5, 1.0)
STAGES = ("query_embedding", "retrieval", "relevance", "ranking", "auction", "clicks", "ground_truth", "logging")


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


def bench(cfg: ExperimentConfig, out_dir: str | Path, log: Callable[[str], None] = print) -> dict:
    rate = matmul_rate()
    log(f"device: {describe()}; matmul rate {rate / 1e9:.1f} GFLOP/s")
    rows = []
    for scale in CATALOGUE_SCALES:
        n_items = max(100, int(cfg.world.n_items * scale))
        c = dataclasses.replace(cfg, world=dataclasses.replace(cfg.world, n_items=n_items))
        world = build_world(c)
        seq = left_padded(world.history.user_id, world.history.item_id, len(world.users.user_id), c.world.seq_len)
        spec = c.arms["control"]
        provider = make_provider(spec.encoder, spec.encoder_args, world)
        system = make_arm_system("bench", provider, world, c.retrieval, c.relevance, c.auction)
        system.relevance = RelevanceModel(c.relevance, provider.dim, c.seed)
        system.relevance.net = system.relevance.net.to(torch_device()).eval()
        feats = RankerFeatures(world.items.advertiser_id, world.items.brand, world.items.leaf, system.item_emb, seq)
        sizes = TableSizes(len(world.users.user_id), n_items, len(world.advertisers.advertiser_id),
                           len(world.brands.brand_id), int(world.items.leaf.max()) + 1)
        system.ranker = CtrModel(c.ranker, sizes, feats, c.auction.n_slots, c.seed)
        system.ranker.net = system.ranker.net.to(torch_device()).eval()
        timer = StageTimer()
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            result = serve_day(world, system, 1, seq, tmp, c.clicks, c.engine, timer=timer)
            total = time.perf_counter() - start
        n_req = len(result.request_ids)
        available = int((world.items.listed_day <= 1).sum())
        flops = stage_flops(c, n_req, available, provider.dim, n_req * c.relevance.max_candidates, n_req * c.retrieval.top_n)
        row = {"n_items": n_items, "n_requests": n_req, "seconds": total, "requests_per_s": n_req / total,
               "stage_seconds": dict(timer.seconds),
               "stage_flops": flops,
               "stage_fraction_of_matmul": {s: flops[s] / timer.seconds[s] / rate for s in flops if timer.seconds[s] > 0}}
        rows.append(row)
        log(format_row(row))
    report = {"device": describe(), "matmul_flops_per_s": rate, "batch_size": cfg.engine.batch_size, "runs": rows}
    write_json(report, Path(out_dir) / "report.json")
    return report


def format_row(row: dict) -> str:
    st = row["stage_seconds"]
    frac = row["stage_fraction_of_matmul"]
    parts = " ".join(f"{s}={st.get(s, 0) / row['n_requests'] * 1e3:.3f}ms" for s in STAGES)
    return (f"items={row['n_items']:>6} requests={row['n_requests']} req/s={row['requests_per_s']:>7.0f} | per request: {parts}"
            f" | of matmul rate: ann={frac.get('retrieval', 0):.1%} relevance={frac.get('relevance', 0):.1%}"
            f" ranker={frac.get('ranking', 0):.1%}")
