"""Day 0 of the offline experiment protocol, shared by A/B runs, sweeps and scaling studies.

A bootstrap system (its own embeddings, the retrieval-order cut instead of a relevance model, a
similarity prior with exploration instead of a trained ranker) serves day 0 and logs it;
annotators label a sample of its candidates. Every arm then learns from these same logs and
labels (adsim.runs.training) and serves days 1.. (adsim.runs.arm). A run folder
keeps day 0, keyed by a hash of every setting that shapes it, so later runs reuse it.
"""

from __future__ import annotations

import time

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import polars as pl

from adsim.core.runtime import dist
from adsim.core.config import ExperimentConfig
from adsim.core.files import read_json, read_parquet, write_json, write_parquet
from adsim.core.runtime.memory import memory_note
from adsim.core.rng import generator, uniform
from adsim.core.tables import take
from adsim.core.validation import digest
from adsim.core.versions import code_version
from adsim.serving.engine import serve_day
from adsim.serving.logs import scan_log
from adsim.serving.system import ArmEmbeddings, ArmSystem
from adsim.serving.titles import RunTitles
from adsim.truth.annotation import annotate
from adsim.truth.ground_truth import relevance
from adsim.world.build import World
from encoders.registry import PROVIDERS, input_digest, make_provider
from stages.filters import RetrievalOrderCut
from stages.lexical import LexicalAnswers
from stages.prior import PriorRanker
from stages.sequences import left_padded

HOLDOUT_SHARE = 0.2


def arm_encoder_args(arm: str, encoder: str, args: dict, replicate: int = 0) -> dict:
    """The protocol's random-stream rule: `args` with the arm's own random stream filled in
    (`stream` = the arm's name) for providers that draw randomness per arm, unless the config set
    one: no two arms share projections or noise by accident, and two arms share them only when a
    config says so. A replicate > 0 draws every stream afresh (suffix `#r<replicate>`, added once)."""
    if not (encoder in PROVIDERS and PROVIDERS[encoder].stream_per_arm):
        return dict(args)
    stream = str(args.get("stream", arm))
    suffix = f"#r{replicate}"
    if replicate and not stream.endswith(suffix):
        stream += suffix
    return {**args, "stream": stream}


def is_holdout(seed: int, request_ids: np.ndarray) -> np.ndarray:
    """A fixed 20 % of requests, by hash, held out from every model's training."""
    return uniform(seed, "holdout", request_ids) < HOLDOUT_SHARE


@dataclass(frozen=True)
class Labels:
    """Annotated (request, item) pairs from day 0."""

    request_id: np.ndarray
    item_id: np.ndarray
    grade: np.ndarray       # noisy annotator grade
    true_grade: np.ndarray  # for analysis only: never used in training
    holdout: np.ndarray


@dataclass(frozen=True)
class Day0:
    """What every arm learns from: bootstrap impression logs, annotated labels, logged sequences."""

    labels: Labels
    seq: np.ndarray  # (n_users, world.seq_len) behaviour before day 1
    run_dir: Path    # the run folder holding the bootstrap's logs
    lexical: LexicalAnswers | None = None  # the bootstrap's title searches, when served in this process

    def impressions(self) -> pl.DataFrame:
        """The bootstrap's logged impressions, read when an arm trains and let go after: 13 M rows
        (0.3 GB) at a million ads that no arm needs while it serves."""
        return read_impressions(self.run_dir, "bootstrap", 0)



@dataclass
class RunContext:
    """What every arm of one run shares: the world, the config, day 0 (the logs and labels every arm
    learns from), the run folder, the run's title indexes and where progress lines go."""

    world: World
    cfg: ExperimentConfig
    day0: Day0
    run_dir: Path
    titles: RunTitles | None = None  # none: each arm builds its own from day 0's answers
    log: Callable[[str], None] = print

def logged_sequences(world: World, seq_len: int) -> np.ndarray:
    """(n_users, seq_len) each user's clicks before day 0, as the system's logs hold them."""
    return left_padded(world.history.user_id, world.history.item_id, len(world.users.user_id), seq_len)


def bootstrap_system(world: World, cfg: ExperimentConfig) -> ArmSystem:
    """The day-0 production system: its own embeddings, no trained models."""
    boot = cfg.bootstrap
    args = arm_encoder_args("bootstrap", boot.encoder, boot.encoder_args, cfg.replicate)
    emb = ArmEmbeddings.of("bootstrap", make_provider(boot.encoder, args, world), world.view.items, cfg.retrieval)
    return ArmSystem(name="bootstrap", embeddings=emb, candidate_filter=RetrievalOrderCut(cfg.relevance.max_candidates),
                     ranker=PriorRanker(cfg.run_seed, emb.item_emb, boot.exploration), auction=cfg.auction)


def collect_labels(world: World, cfg: ExperimentConfig, boot: ArmEmbeddings, seq: np.ndarray) -> Labels:
    """Annotate a sample of bootstrap day-0 candidates, as a relevance-labelling team would."""
    rng = generator(cfg.run_seed, "labels")
    day0 = world.requests.request_id[world.requests.day == 0]
    req = np.sort(rng.choice(day0, size=min(cfg.relevance.labelled_requests, len(day0)), replace=False))
    user = world.requests.user_id[req]
    cands = boot.retriever(0)(boot.query_embeddings(req), seq[user][:, -cfg.retrieval.i2i_recent:],
                              world.requests.query_text[req])
    # Half of each request's pairs from the top of its candidate list (what the system would show),
    # half uniformly from the rest, as a labelling queue mixes head and tail candidates.
    k = cfg.relevance.pairs_per_request
    head = k // 2
    tail_key = np.where(cands.valid, rng.random(cands.item.shape), 2.0)
    tail_key[:, :head] = 3.0
    pick = np.concatenate([np.broadcast_to(np.arange(head), (len(req), head)),
                           np.argsort(tail_key, axis=1)[:, :k - head]], axis=1)
    items = np.take_along_axis(cands.item, pick, 1)
    rows, cols = np.nonzero(items >= 0)
    pair_req, pair_item = req[rows], items[rows, cols]
    true = relevance(take(world.requests.intent, pair_req), world.items, pair_item)
    noisy = annotate(true, cfg.relevance.label_noise, rng)
    return Labels(request_id=pair_req, item_id=pair_item, grade=noisy, true_grade=true,
                  holdout=is_holdout(cfg.run_seed, pair_req))


def impression_scan(run_dir: Path, arm: str, days: int | list[int]) -> pl.LazyFrame:
    """An arm's impression log of some days, lazily."""
    days = [days] if isinstance(days, int) else days
    return scan_log(run_dir, "impressions").filter((pl.col("arm") == arm) & pl.col("day").is_in(days))


def read_impressions(run_dir: Path, arm: str, days: int | list[int]) -> pl.DataFrame:
    """An arm's logged impressions of some days, in (request, position) order."""
    return (impression_scan(run_dir, arm, days)
            .select("request_id", "user_id", "query_modality", "item_id", "position", "click", "true_ctr")
            .sort("request_id", "position").collect())


def day0_key(cfg: ExperimentConfig) -> str:
    """A hash of everything that shapes day 0: the settings, the code, the bootstrap's input files."""
    args = arm_encoder_args("bootstrap", cfg.bootstrap.encoder, cfg.bootstrap.encoder_args, cfg.replicate)
    return digest({"system": cfg.system_dict(), "code": code_version("experiment"),
                   "inputs": input_digest(cfg.bootstrap.encoder, args)})


def prepare_day0(world: World, cfg: ExperimentConfig, run_dir: Path, log: Callable[[str], None]) -> Day0:
    """Serve and label day 0 with the bootstrap system, or reload it when this run folder has it."""
    seq = logged_sequences(world, cfg.world.seq_len)
    marker, labels_path = run_dir / "day0" / "done.json", run_dir / "day0" / "labels.parquet"
    key = day0_key(cfg)
    saved = read_json(marker).get("key") if marker.exists() else None
    if saved == key:
        frame = read_parquet(labels_path)
        labels = Labels(**{f: frame[f].to_numpy() for f in Labels.__dataclass_fields__})
        log("day 0: reusing the bootstrap logs and labels of this run folder")
        return Day0(labels=labels, seq=seq, run_dir=run_dir)
    if saved is not None:
        log("day 0: the saved bootstrap logs are stale (settings, code or weights changed); serving day 0 again")
    t = [time.perf_counter()]
    boot = bootstrap_system(world, cfg)
    if dist.ranks().world > 1:  # the ranks deal day 0's title searches out, not each those of its own batches
        boot.embeddings.titles = RunTitles(world.view.items, cfg.retrieval, first_day=0,
                                           first_texts=world.requests.query_text[world.requests.day == 0])
        boot.embeddings.lexical(0)  # built now, together, before the ranks' batches diverge
    t.append(time.perf_counter())
    serve_day(world, boot, 0, seq, run_dir, cfg.clicks, cfg.engine)
    t.append(time.perf_counter())
    labels = collect_labels(world, cfg, boot.embeddings, seq)  # the same on every rank
    t.append(time.perf_counter())
    if dist.ranks().main:
        write_parquet(pl.DataFrame({f: getattr(labels, f) for f in Labels.__dataclass_fields__}), labels_path)
        write_json({"key": key}, marker)
    day0 = Day0(labels=labels, seq=seq, run_dir=run_dir, lexical=boot.embeddings.retriever(0).lexical.answers(0))
    shown, clicks = impression_scan(run_dir, "bootstrap", 0).select(pl.len(), pl.col("click").sum()).collect().row(0)
    log(f"day 0: bootstrap served {int((world.requests.day == 0).sum()):,} requests, "
        f"{shown:,} impressions, {clicks:,} clicks; "
        f"{len(labels.grade):,} labelled pairs (system built in {t[1] - t[0]:.0f}s, served in {t[2] - t[1]:.0f}s, "
        f"labelled in {t[3] - t[2]:.0f}s; {memory_note()})")
    return day0
