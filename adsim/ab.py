"""The offline A/B protocol.

Day 0: a bootstrap system (its own neutral embeddings, rule-based ranking with exploration)
serves traffic and logs it. Annotators label a sample of day-0 query-ad pairs. Each arm then
trains its relevance model on those labels and its ranker on the day-0 impression logs, both with
the arm's own embeddings. On day 1 every arm serves the same requests with common random
numbers, and lifts against the control come from a paired bootstrap over users.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import polars as pl

from adsim.annotation import annotate
from adsim.config import ExperimentConfig
from adsim.ground_truth import relevance
from adsim.tables import take
from adsim.engine import ArmSystem, DayResult, make_arm_system, serve_day
from adsim.io import write_json, write_text
from adsim.logs import scan_log
from adsim.metrics import auc, classifier_report
from adsim.rng import generator, uniform
from adsim.sequences import left_padded
from adsim.stats import RatioMetric, bootstrap_weights, paired_lift
from adsim.world import World, build_world
from encoders.registry import make_provider, provider_metrics
from stages.ranker import CtrModel, ImpressionTable, RankerFeatures, TableSizes
from stages.relevance import PairFeatures, RelevanceModel, pair_features

HOLDOUT_SHARE = 0.2
N_BOOTSTRAP = 1000
# Ratio metrics with a CI: name -> (numerator, denominator, scale) over per-request outcomes.
RATIO_METRICS: dict[str, tuple[Callable[[DayResult], np.ndarray], Callable[[DayResult], np.ndarray], float]] = {
    "ctr": (lambda d: d.clicks, lambda d: d.n_shown, 1.0),
    "clicks_per_request": (lambda d: d.clicks, lambda d: np.ones(len(d.clicks)), 1.0),
    "rpm": (lambda d: d.revenue, lambda d: np.ones(len(d.clicks)), 1000.0),
    "revenue_per_request": (lambda d: d.revenue, lambda d: np.ones(len(d.clicks)), 1.0),
    "relevance_rate": (lambda d: d.relevant_shown, lambda d: d.n_shown, 1.0),
    "coverage": (lambda d: (d.n_shown > 0), lambda d: np.ones(len(d.clicks)), 1.0),
    "retrieval_recall": (lambda d: d.relevant_retrieved, lambda d: d.relevant_reachable, 1.0),
    "target_recall": (lambda d: d.target_retrieved, lambda d: np.ones(len(d.clicks)), 1.0),
    "purchases_per_request": (lambda d: d.purchases, lambda d: np.ones(len(d.clicks)), 1.0),
}


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


def collect_labels(world: World, cfg: ExperimentConfig, boot: ArmSystem, seq: np.ndarray) -> Labels:
    """Annotate a sample of bootstrap day-0 candidates, as a relevance-labelling team would."""
    rng = generator(cfg.seed, "labels")
    day0 = world.requests.request_id[world.requests.day == 0]
    req = np.sort(rng.choice(day0, size=min(cfg.relevance.labelled_requests, len(day0)), replace=False))
    user = world.requests.user_id[req]
    cands = boot.retriever(world, 0)(boot.query_embeddings(req), seq[user][:, -cfg.retrieval.i2i_recent:],
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
    noisy = annotate(world, pair_req, pair_item, cfg.relevance.label_noise, rng)
    return Labels(request_id=pair_req, item_id=pair_item, grade=noisy, true_grade=true,
                  holdout=is_holdout(cfg.seed, pair_req))


def label_features(world: World, system: ArmSystem, labels: Labels, rows: np.ndarray) -> PairFeatures:
    req = labels.request_id[rows]
    q = system.query_embeddings(req)
    return pair_features(q, system.item_emb, world.requests.query_text[req], labels.item_id[rows, None],
                         world.requests.modality[req], system.retriever(world, 0).lexical)


def read_impressions(run_dir: Path, arm: str, day: int) -> pl.DataFrame:
    return (scan_log(run_dir, "impressions").filter((pl.col("arm") == arm) & (pl.col("day") == day))
            .select("request_id", "user_id", "query_modality", "item_id", "position", "click")
            .sort("request_id", "position").collect())


def impression_table(world: World, system: ArmSystem, frame: pl.DataFrame) -> ImpressionTable:
    req = frame["request_id"].to_numpy()
    uniq, inv = np.unique(req, return_inverse=True)
    q = system.query_embeddings(uniq)[inv] if len(uniq) else np.zeros((0, system.item_emb.shape[1]), np.float32)
    return ImpressionTable(user=frame["user_id"].to_numpy(), modality=world.requests.modality[req].astype(np.int64),
                           query_emb=q, item=frame["item_id"].to_numpy(), position=frame["position"].to_numpy().astype(np.int64),
                           click=frame["click"].to_numpy())


def train_arm(world: World, cfg: ExperimentConfig, system: ArmSystem, labels: Labels, day0: pl.DataFrame,
              seq: np.ndarray, log: Callable[[str], None]) -> dict[str, float]:
    """Train an arm's relevance model and ranker on the shared day-0 data; returns model metrics."""
    arm, provider = system.name, system.provider
    metrics: dict[str, float] = {}
    t0 = time.perf_counter()
    train, hold = np.flatnonzero(~labels.holdout), np.flatnonzero(labels.holdout)
    system.relevance = RelevanceModel(system.relevance_cfg, provider.dim, cfg.seed).fit(
        label_features(world, system, labels, train), labels.grade[train])
    rel = system.relevance.score(label_features(world, system, labels, hold))
    metrics["relevance_auc"] = auc(labels.grade[hold] >= 2, rel)
    metrics["relevance_auc_true_labels"] = auc(labels.true_grade[hold] >= 2, rel)

    rcfg = cfg.stage("ranker", arm)
    features = RankerFeatures(advertiser=world.items.advertiser_id, brand=world.items.brand, leaf=world.items.leaf,
                              item_emb=system.item_emb, seq=seq)
    sizes = TableSizes(users=len(world.users.user_id), items=len(world.items.item_id),
                       advertisers=len(world.advertisers.advertiser_id), brands=len(world.brands.brand_id),
                       leaves=int(world.items.leaf.max()) + 1)
    hold_rows = is_holdout(cfg.seed, day0["request_id"].to_numpy())
    table = impression_table(world, system, day0)
    take_rows = lambda m: ImpressionTable(**{k: v[m] for k, v in table.__dict__.items()})
    system.ranker = CtrModel(rcfg, sizes, features, system.auction.n_slots, cfg.seed).fit(take_rows(~hold_rows))
    held = take_rows(hold_rows)
    pred = system.ranker.predict_logged(held)
    report = classifier_report(held.click, pred, group=held.user)
    metrics.update({f"ranker_{k}": v for k, v in report.items()})
    log(f"  {arm}: trained relevance (AUC {metrics['relevance_auc']:.3f}) and ranker "
        f"(AUC {metrics['ranker_auc']:.3f}) in {time.perf_counter() - t0:.1f}s")
    return metrics


def per_user(result: DayResult, n_users: int) -> dict[str, RatioMetric]:
    """Per-user numerator and denominator sums of every ratio metric."""
    out = {}
    for name, (num, den, scale) in RATIO_METRICS.items():
        out[name] = RatioMetric(num=np.bincount(result.user_ids, weights=num(result).astype(np.float64), minlength=n_users),
                                den=np.bincount(result.user_ids, weights=den(result).astype(np.float64), minlength=n_users),
                                scale=scale)
    return out


def run_ab(cfg: ExperimentConfig, out_dir: str | Path, log: Callable[[str], None] = print,
           world: World | None = None) -> dict:
    """Run the whole A/B protocol; write logs, report.json and report.md under `out_dir`."""
    out_dir = Path(out_dir)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    world = world or build_world(cfg)
    timings["world_s"] = time.perf_counter() - t
    # Every arm's provider and embeddings are built and checked before any work, so bad input fails fast.
    systems = {arm: make_arm_system(arm, make_provider(spec.encoder, spec.encoder_args, world), world,
                                    cfg.stage("retrieval", arm), cfg.stage("relevance", arm), cfg.stage("auction", arm))
               for arm, spec in cfg.arms.items()}
    n_users = len(world.users.user_id)
    seq = left_padded(world.history.user_id, world.history.item_id, n_users, cfg.world.seq_len)

    t = time.perf_counter()
    boot_provider = make_provider(cfg.bootstrap.encoder, cfg.bootstrap.encoder_args, world)
    boot = make_arm_system("bootstrap", boot_provider, world, cfg.retrieval, cfg.relevance, cfg.auction,
                           exploration=cfg.bootstrap.exploration)
    serve_day(world, boot, 0, seq, out_dir, cfg.clicks, cfg.engine)
    labels = collect_labels(world, cfg, boot, seq)
    day0 = read_impressions(out_dir, "bootstrap", 0)
    timings["bootstrap_day0_s"] = time.perf_counter() - t
    log(f"day 0: bootstrap served {int((world.requests.day == 0).sum()):,} requests, "
        f"{day0.height:,} impressions, {int(day0['click'].sum()):,} clicks; {len(labels.grade):,} labelled pairs")

    arms: dict[str, dict] = {}
    results: dict[str, DayResult] = {}
    for arm in cfg.arms:
        t = time.perf_counter()
        system = systems[arm]
        model_metrics = train_arm(world, cfg, system, labels, day0, seq, log)
        timings[f"train_{arm}_s"] = time.perf_counter() - t
        t = time.perf_counter()
        results[arm] = serve_day(world, system, 1, seq, out_dir, cfg.clicks, cfg.engine)
        timings[f"serve_{arm}_s"] = time.perf_counter() - t
        arms[arm] = {"encoder": cfg.arms[arm].encoder, "encoder_args": dict(cfg.arms[arm].encoder_args),
                     "model_metrics": model_metrics,
                     "intermediate_metrics": provider_metrics(world, system.provider, seed=cfg.seed)}

    weights = bootstrap_weights(cfg.seed, n_users, N_BOOTSTRAP)
    ratios = {arm: per_user(res, n_users) for arm, res in results.items()}
    for arm in arms:
        arms[arm]["metrics"] = {m: r.value() for m, r in ratios[arm].items()} | arms[arm]["model_metrics"]
    lifts = {arm: {m: paired_lift(ratios["control"][m], ratios[arm][m], weights).as_dict() for m in RATIO_METRICS}
             for arm in arms if arm != "control"}
    for arm in lifts:
        for m, v in arms[arm]["model_metrics"].items():
            c = arms["control"]["model_metrics"][m]
            lifts[arm][m] = {"control": c, "treatment": v, "absolute": v - c, "relative": v / c - 1 if c else float("nan"),
                             "ci_low": None, "ci_high": None, "abs_ci_low": None, "abs_ci_high": None, "p_value": None}
    main = "treatment" if "treatment" in lifts else next(iter(lifts), None)
    report = {"name": cfg.name, "seed": cfg.seed, "config_hash": cfg.hash(), "n_requests_day1": int((world.requests.day == 1).sum()),
              "n_users": n_users, "n_bootstrap": N_BOOTSTRAP, "arms": arms, "lift": lifts.get(main, {}),
              "lift_arm": main, "lifts": lifts, "timings": timings}
    write_json(report, out_dir / "report.json")
    write_text(render_markdown(report), out_dir / "report.md")
    return report


def _fmt(v: float | None, pct: bool = False) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    return f"{v * 100:+.2f}%" if pct else f"{v:.4g}"


def render_markdown(report: dict) -> str:
    """The A/B report as a readable table, one per treatment arm."""
    lines = [f"# A/B report: {report['name']}", "",
             f"seed {report['seed']}, config {report['config_hash']}, {report['n_requests_day1']:,} day-1 requests, "
             f"{report['n_users']:,} users; 95 % CIs from a paired bootstrap over users ({report['n_bootstrap']} resamples).", ""]
    for arm, lift in report["lifts"].items():
        spec = report["arms"][arm]
        ctrl = report["arms"]["control"]
        lines += [f"## {arm} vs control", "",
                  f"control: `{ctrl['encoder']}` {ctrl['encoder_args']}; {arm}: `{spec['encoder']}` {spec['encoder_args']}", "",
                  "| metric | control | " + arm + " | lift | 95% CI | p |", "| --- | ---: | ---: | ---: | --- | ---: |"]
        for m, l in lift.items():
            ci = f"[{_fmt(l['ci_low'], True)}, {_fmt(l['ci_high'], True)}]" if l["ci_low"] is not None else "–"
            lines.append(f"| {m} | {_fmt(l['control'])} | {_fmt(l['treatment'])} | {_fmt(l['relative'], True)} | {ci} | {_fmt(l['p_value'])} |")
        lines.append("")
    inter = {arm: a.get("intermediate_metrics", {}) for arm, a in report["arms"].items()}
    names = sorted({m for v in inter.values() for m in v if "@10" in m or m.startswith(("probe", "alignment", "uniformity"))})
    if names:
        lines += ["## Intermediate metrics (held-out queries)", "", "| metric | " + " | ".join(inter) + " |",
                  "| --- |" + " ---: |" * len(inter)]
        lines += [f"| {n} | " + " | ".join(_fmt(v.get(n)) for v in inter.values()) + " |" for n in names]
        lines.append("")
    return "\n".join(lines)

