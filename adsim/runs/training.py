"""How an arm learns from day 0: its relevance model from the annotators' labels, its ranker from
the bootstrap's logged impressions, each with the arm's own embeddings; and the feedback loop's
sequences, which grow with the arm's own clicks when it serves several days."""

from __future__ import annotations

import time

import numpy as np
import polars as pl

from adsim.core.config import ArmConfig, ExperimentConfig
from adsim.core.runtime.dist import Ranks
from adsim.core.runtime.memory import memory_note
from adsim.core.rng import uniform
from adsim.stats.model_metrics import (
    auc,
    auc_interval,
    classifier_report,
    group_auc,
    position_only_log_loss,
    ratio_interval,
)
from adsim.runs.protocol import Labels, RunContext, is_holdout
from adsim.serving.system import ArmEmbeddings, ArmSystem
from adsim.world.build import World
from stages.filters import RelevanceFilter
from stages.ranker.model import CtrModel
from stages.ranker.features import ImpressionTable, RankerFeatures, TableSizes
from stages.lexical import LexicalIndex
from stages.relevance import PairFeatures, RelevanceModel, pair_features
from stages.sequences import left_padded


def label_features(world: World, emb: ArmEmbeddings, labels: Labels, rows: np.ndarray,
                   lexical: LexicalIndex) -> PairFeatures:
    """The relevance model's features of labelled day-0 pairs; `lexical`: day 0's title index."""
    req = labels.request_id[rows]
    q = emb.query_embeddings(req)
    return pair_features(q, emb.item_emb, world.requests.query_text[req], labels.item_id[rows, None],
                         world.requests.modality[req], lexical)


def impression_table(world: World, emb: ArmEmbeddings, frame: pl.DataFrame, seq: np.ndarray) -> ImpressionTable:
    """Logged impressions (`read_impressions`) as the ranker's training rows, with the arm's query
    embeddings and the sequences `seq` they were served with."""
    req = frame["request_id"].to_numpy()
    query_emb, query_row = emb.distinct_query_embeddings(req)
    return ImpressionTable(user=frame["user_id"].to_numpy(), modality=world.requests.modality[req].astype(np.int64),
                           query_emb=query_emb, query_row=query_row, item=frame["item_id"].to_numpy(),
                           position=frame["position"].to_numpy().astype(np.int64), click=frame["click"].to_numpy(), seq=seq)


def training_sample(seed: int, request_ids: np.ndarray, hold: np.ndarray, max_rows: int) -> np.ndarray:
    """Which logged impressions the ranker may train on under `ranker.max_train_rows`: every one
    (0), else whole requests kept by hash at the rate that leaves about `max_rows` of the
    non-held-out ones (a request's slots stay together, as the position model needs)."""
    n_train = int((~hold).sum())
    if max_rows == 0 or n_train <= max_rows:
        return np.ones(len(request_ids), dtype=bool)
    return uniform(seed, "ranker-rows", request_ids) < max_rows / n_train


def fit_ranker(world: World, cfg: ExperimentConfig, emb: ArmEmbeddings, spec: ArmConfig, impressions: pl.DataFrame,
               seq: np.ndarray, ranks: Ranks | None = None) -> tuple[CtrModel, dict[str, float]]:
    """Train the arm's ranker on logged impressions (hold-out requests excluded), calibrate its pCTR,
    and measure it on the held-out ones."""
    items = world.view.items
    features = RankerFeatures(advertiser=items.advertiser_id, brand=items.brand, leaf=items.leaf, item_emb=emb.item_emb)
    sizes = TableSizes(users=len(world.users.user_id), items=len(items.item_id),
                       advertisers=len(world.advertisers.advertiser_id), brands=len(world.brands.brand_id),
                       leaves=int(items.leaf.max()) + 1)
    ranker_cfg = cfg.stage("ranker", spec)
    req = impressions["request_id"].to_numpy()
    hold = is_holdout(cfg.run_seed, req)
    keep = hold | training_sample(cfg.run_seed, req, hold, ranker_cfg.max_train_rows)
    if not keep.all():  # the held-out impressions stay whole: the metrics do not move with the cap
        impressions, hold = impressions.filter(pl.Series(keep)), hold[keep]
    table = impression_table(world, emb, impressions, seq)
    train = table.rows(~hold)
    ranker = CtrModel(ranker_cfg, sizes, features, cfg.stage("auction", spec).n_slots, cfg.run_seed + ranker_cfg.seed).fit(train, ranks)
    # Calibrated on the scores of the logs it trained on: one epoch memorises little, so these are
    # nearly unbiased and every click counts. (A held-out fifth of day 0 left the level at the mercy
    # of its ~190 clicks: 0.87 of the true CTR on the demo seed; cross-fitted folds did not transfer
    # to the full model: 0.57-1.71 across ranker seeds; CHANGELOG.md, "Development history".)
    ranker.calibrate(ranker.logits_logged(train), train.click)
    held = table.rows(hold)
    free = ranker.position_free_logits(held)  # one pass for both scores: the position bias is additive
    served, logged = ranker.predict_logged(held, True, free), ranker.predict_logged(held, False, free)
    metrics = ranker_metrics(served, logged, train, held, cfg.run_seed)
    # Analysis only: against the true click probabilities, free of the held-out clicks' sampling noise.
    metrics["ranker_calibration_true"] = float(logged.mean() / impressions["true_ctr"].to_numpy()[hold].mean())
    return ranker, metrics


def ranker_metrics(served: np.ndarray, logged: np.ndarray, train: ImpressionTable, held: ImpressionTable,
                   seed: int) -> dict[str, float]:
    """Held-out metrics of the pCTRs of `held`. The headline AUC and gAUC are those of the served
    score (the top-slot pCTR the auction sees), with a CI over users; log-loss and calibration are of
    `logged`, the calibrated pCTR in the logged slot, next to the position-only model's log-loss; the
    position-aware AUCs have keys of their own."""
    lo, hi = auc_interval(held.click, served, held.user, seed)
    aware = classifier_report(held.click, logged, group=held.user)
    cal_lo, cal_hi = ratio_interval(logged, held.click, held.user, seed)
    return {"ranker_auc": auc(held.click, served), "ranker_auc_ci_low": lo, "ranker_auc_ci_high": hi,
            "ranker_gauc": group_auc(held.click, served, held.user), "ranker_log_loss": aware["log_loss"],
            "ranker_calibration": aware["calibration"], "ranker_calibration_ci_low": cal_lo,
            "ranker_calibration_ci_high": cal_hi, "ranker_auc_position_aware": aware["auc"],
            "ranker_gauc_position_aware": aware["gauc"],
            "ranker_log_loss_position_only": position_only_log_loss(train.position, train.click, held.position, held.click)}


def fit_relevance(world: World, cfg: ExperimentConfig, emb: ArmEmbeddings, spec: ArmConfig,
                  labels: Labels) -> tuple[RelevanceModel, dict[str, float]]:
    """Train the arm's relevance model on the annotators' grades; held-out AUC against them and
    against the true grades (the latter for analysis only)."""
    train, hold = np.flatnonzero(~labels.holdout), np.flatnonzero(labels.holdout)
    rel_cfg = cfg.stage("relevance", spec)
    lexical = emb.lexical(0)  # day 0's title index, for both feature sets, let go when this returns
    model = RelevanceModel(rel_cfg, emb.dim, cfg.run_seed + rel_cfg.seed).fit(
        label_features(world, emb, labels, train, lexical), labels.grade[train])
    score = model.score(label_features(world, emb, labels, hold, lexical))
    return model, {"relevance_auc": auc(labels.grade[hold] >= 2, score),
                   "relevance_auc_true_labels": auc(labels.true_grade[hold] >= 2, score)}


def train_arm(ctx: RunContext, name: str, spec: ArmConfig, emb: ArmEmbeddings,
              ranks: Ranks | None = None) -> tuple[ArmSystem, dict[str, float]]:
    """The arm's system, its relevance model and ranker trained on the shared day-0 data; and its
    model metrics. `ranks`: the ranks serving the arm (its ranker may train across them)."""
    world, cfg, day0 = ctx.world, ctx.cfg, ctx.day0
    t0 = time.perf_counter()
    relevance, metrics = fit_relevance(world, cfg, emb, spec, day0.labels)
    t1 = time.perf_counter()
    impressions = day0.impressions()  # read for training only: it is let go when this returns
    ranker, ranker_metrics = fit_ranker(world, cfg, emb, spec, impressions, day0.seq, ranks)
    metrics |= ranker_metrics
    ctx.log(f"  {name}: trained relevance (AUC {metrics['relevance_auc']:.3f}) in {t1 - t0:.1f}s and ranker "
        f"(AUC {metrics['ranker_auc']:.3f}, {impressions.height:,} logged impressions) in {time.perf_counter() - t1:.1f}s ({memory_note()})")
    system = ArmSystem(name=name, embeddings=emb, candidate_filter=RelevanceFilter(relevance, emb.item_emb, relevance.cfg),
                       ranker=ranker, auction=cfg.stage("auction", spec), click_stream=spec.click_stream)
    return system, metrics


def grown_sequences(world: World, clicks: pl.DataFrame, seq_len: int) -> np.ndarray:
    """Behaviour sequences after an arm's own clicked impressions (`request_id`, `item_id`, in log
    order, as `read_impressions` gives them) were appended to the world's history."""
    req = clicks["request_id"].to_numpy()
    hist = world.history
    user = np.concatenate([hist.user_id, world.requests.user_id[req]])
    ts = np.concatenate([hist.ts, world.requests.ts[req]])
    item = np.concatenate([hist.item_id, clicks["item_id"].to_numpy().astype(hist.item_id.dtype)])
    order = np.lexsort((ts, user))
    return left_padded(user[order], item[order], len(world.users.user_id), seq_len)
