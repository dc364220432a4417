"""The offline experiment protocol shared by A/B runs, exchange-rate sweeps and scaling studies.

Day 0: a bootstrap system (its own neutral embeddings, rule-based ranking with exploration)
serves traffic and logs it; annotators label a sample of day-0 query-ad pairs. Every arm then
trains its relevance model on those labels and its ranker on the day-0 impression logs, with its
own embeddings, and serves days 1..n-1 with common random numbers. With more than one serving day
each user's behaviour sequence grows by the clicks the arm itself produced (updated between days,
not within one), and with `engine.retrain_daily` the ranker is retrained every morning on the
arm's own logs of the day before, with the sequences those impressions were served with (so a
click never leaks into its own features): the feedback loop of a deployed system.

An arm's outcome (per-user sums of every metric and slice) is saved under `arms/<name>/`, keyed by
a hash of everything that shapes it, so an interrupted sweep resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import polars as pl

from adsim.truth.annotation import annotate
from adsim.core.config import ArmConfig, ExperimentConfig
from adsim.core.validation import digest
from adsim.serving.engine import ArmSystem, make_arm_system, serve_day
from adsim.core.errors import DataError
from adsim.truth.ground_truth import relevance
from adsim.core.files import read_json, read_parquet, write_json, write_npz, write_parquet
from adsim.serving.logs import scan_log
from adsim.experiments.model_metrics import auc, classifier_report
from adsim.experiments.outcomes import outcome_sums
from adsim.core.rng import generator, uniform
from stages.sequences import left_padded
from adsim.experiments.stats import RatioMetric
from adsim.core.tables import take
from adsim.world.build import World
from encoders.provider import EmbeddingProvider
from encoders.registry import make_provider, provider_metrics
from stages.ranker import CtrModel, ImpressionTable, RankerFeatures, TableSizes
from stages.relevance import PairFeatures, RelevanceModel, pair_features

HOLDOUT_SHARE = 0.2


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
    impressions: pl.DataFrame
    seq: np.ndarray  # (n_users, world.seq_len) behaviour before day 1


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


def read_impressions(run_dir: Path, arm: str, days: int | list[int]) -> pl.DataFrame:
    days = [days] if isinstance(days, int) else days
    return (scan_log(run_dir, "impressions").filter((pl.col("arm") == arm) & pl.col("day").is_in(days))
            .select("request_id", "user_id", "query_modality", "item_id", "position", "click")
            .sort("request_id", "position").collect())


def prepare_day0(world: World, cfg: ExperimentConfig, run_dir: Path, log: Callable[[str], None]) -> Day0:
    """Serve and label day 0 with the bootstrap system, or reload it when this run folder has it."""
    seq = left_padded(world.history.user_id, world.history.item_id, len(world.users.user_id), cfg.world.seq_len)
    marker, labels_path = run_dir / "day0" / "done.json", run_dir / "day0" / "labels.parquet"
    key = digest(cfg.system_dict())
    if marker.exists() and read_json(marker).get("key") == key:
        frame = read_parquet(labels_path)
        labels = Labels(**{f: frame[f].to_numpy() for f in Labels.__dataclass_fields__})
        log("day 0: reusing the bootstrap logs and labels of this run folder")
        return Day0(labels=labels, impressions=read_impressions(run_dir, "bootstrap", 0), seq=seq)
    boot_provider = make_provider(cfg.bootstrap.encoder, cfg.bootstrap.encoder_args, world)
    boot = make_arm_system("bootstrap", boot_provider, world, cfg.retrieval, cfg.relevance, cfg.auction,
                           exploration=cfg.bootstrap.exploration)
    serve_day(world, boot, 0, seq, run_dir, cfg.clicks, cfg.engine)
    labels = collect_labels(world, cfg, boot, seq)
    write_parquet(pl.DataFrame({f: getattr(labels, f) for f in Labels.__dataclass_fields__}), labels_path)
    write_json({"key": key}, marker)
    day0 = Day0(labels=labels, impressions=read_impressions(run_dir, "bootstrap", 0), seq=seq)
    log(f"day 0: bootstrap served {int((world.requests.day == 0).sum()):,} requests, "
        f"{day0.impressions.height:,} impressions, {int(day0.impressions['click'].sum()):,} clicks; "
        f"{len(labels.grade):,} labelled pairs")
    return day0


def label_features(world: World, system: ArmSystem, labels: Labels, rows: np.ndarray) -> PairFeatures:
    req = labels.request_id[rows]
    q = system.query_embeddings(req)
    return pair_features(q, system.item_emb, world.requests.query_text[req], labels.item_id[rows, None],
                         world.requests.modality[req], system.retriever(world, 0).lexical)


def impression_table(world: World, system: ArmSystem, frame: pl.DataFrame) -> ImpressionTable:
    req = frame["request_id"].to_numpy()
    return ImpressionTable(user=frame["user_id"].to_numpy(), modality=world.requests.modality[req].astype(np.int64),
                           query_emb=system.query_embeddings(req), item=frame["item_id"].to_numpy(), position=frame["position"].to_numpy().astype(np.int64),
                           click=frame["click"].to_numpy())


def fit_ranker(world: World, cfg: ExperimentConfig, system: ArmSystem, spec: ArmConfig, impressions: pl.DataFrame,
               seq: np.ndarray) -> dict[str, float]:
    """Train the arm's ranker on logged impressions (hold-out requests excluded); held-out metrics."""
    features = RankerFeatures(advertiser=world.items.advertiser_id, brand=world.items.brand, leaf=world.items.leaf,
                              item_emb=system.item_emb, seq=seq)
    sizes = TableSizes(users=len(world.users.user_id), items=len(world.items.item_id),
                       advertisers=len(world.advertisers.advertiser_id), brands=len(world.brands.brand_id),
                       leaves=int(world.items.leaf.max()) + 1)
    hold = is_holdout(cfg.seed, impressions["request_id"].to_numpy())
    table = impression_table(world, system, impressions)
    rows = lambda m: ImpressionTable(**{k: v[m] for k, v in table.__dict__.items()})
    system.ranker = CtrModel(cfg.stage("ranker", spec), sizes, features, system.auction.n_slots, cfg.seed).fit(rows(~hold))
    held = rows(hold)
    report = classifier_report(held.click, system.ranker.predict_logged(held), group=held.user)
    return {f"ranker_{k}": v for k, v in report.items()}


def train_arm(world: World, cfg: ExperimentConfig, system: ArmSystem, spec: ArmConfig, day0: Day0,
              log: Callable[[str], None]) -> dict[str, float]:
    """Train an arm's relevance model and ranker on the shared day-0 data; returns model metrics."""
    labels = day0.labels
    t0 = time.perf_counter()
    train, hold = np.flatnonzero(~labels.holdout), np.flatnonzero(labels.holdout)
    system.relevance = RelevanceModel(system.relevance_cfg, system.provider.dim, cfg.seed).fit(
        label_features(world, system, labels, train), labels.grade[train])
    rel = system.relevance.score(label_features(world, system, labels, hold))
    metrics = {"relevance_auc": auc(labels.grade[hold] >= 2, rel),
               "relevance_auc_true_labels": auc(labels.true_grade[hold] >= 2, rel)}
    metrics |= fit_ranker(world, cfg, system, spec, day0.impressions, day0.seq)
    log(f"  {system.name}: trained relevance (AUC {metrics['relevance_auc']:.3f}) and ranker "
        f"(AUC {metrics['ranker_auc']:.3f}) in {time.perf_counter() - t0:.1f}s")
    return metrics


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


@dataclass
class ArmOutcome:
    """One arm's results: model and intermediate metrics, and per-user sums of every metric and slice."""

    name: str
    spec: dict
    model_metrics: dict[str, float]
    intermediate: dict[str, float]
    sums: dict[str, RatioMetric]  # "all/ctr", "day=2/ctr", "modality=image/ctr", "item_age=new/ctr", ...
    seconds: float = 0.0

    def save(self, folder: Path, key: str) -> None:
        names = list(self.sums)
        write_npz({"num": np.stack([self.sums[n].num for n in names]), "den": np.stack([self.sums[n].den for n in names])},
                  folder / "sums.npz")
        write_json({"key": key, "name": self.name, "spec": self.spec, "model_metrics": self.model_metrics,
                    "intermediate": self.intermediate, "seconds": self.seconds, "sums": names,
                    "scales": [self.sums[n].scale for n in names]}, folder / "outcome.json")

    @classmethod
    def load(cls, folder: Path, key: str) -> "ArmOutcome | None":
        """The saved outcome if it exists and was made with the same settings, else None."""
        meta_path = folder / "outcome.json"
        if not meta_path.exists():
            return None
        meta = read_json(meta_path)
        if meta.get("key") != key:
            return None
        try:
            with np.load(folder / "sums.npz", allow_pickle=False) as z:
                num, den = z["num"], z["den"]
        except (OSError, ValueError, KeyError) as err:
            raise DataError(f"{folder / 'sums.npz'}: unreadable saved arm outcome ({err}); delete the folder to rerun it") from None
        sums = {n: RatioMetric(num=num[i], den=den[i], scale=s) for i, (n, s) in enumerate(zip(meta["sums"], meta["scales"]))}
        return cls(name=meta["name"], spec=meta["spec"], model_metrics=meta["model_metrics"],
                   intermediate=meta["intermediate"], sums=sums, seconds=meta["seconds"])


def arm_key(cfg: ExperimentConfig, spec: ArmConfig) -> str:
    return digest({"system": cfg.system_dict(), "arm": dataclasses.asdict(spec)})


def run_arm(world: World, cfg: ExperimentConfig, name: str, spec: ArmConfig, day0: Day0, run_dir: Path,
            log: Callable[[str], None] = print, provider: EmbeddingProvider | None = None) -> ArmOutcome:
    """Train one arm on day 0 and serve it over every later day; reuse a saved outcome when one matches.
    `provider`: the arm's embedding provider if the caller already built it."""
    folder, key = run_dir / "arms" / name, arm_key(cfg, spec)
    saved = ArmOutcome.load(folder, key)
    if saved is not None:
        log(f"  {name}: reusing its saved outcome")
        return saved
    t0 = time.perf_counter()
    provider = provider or make_provider(spec.encoder, spec.encoder_args, world)
    system = make_arm_system(name, provider, world, cfg.stage("retrieval", spec), cfg.stage("relevance", spec),
                             cfg.stage("auction", spec), click_stream=spec.click_stream)
    metrics = train_arm(world, cfg, system, spec, day0, log)
    results, seq, own_clicks = {}, day0.seq, []
    for day in range(1, cfg.traffic.n_days):
        if day > 1:  # the feedback loop: sequences grow with the arm's own clicks, the ranker may retrain
            yesterday = read_impressions(run_dir, name, day - 1)
            if cfg.engine.retrain_daily:  # on yesterday's own logs, with the sequences they were served with
                day_metrics = fit_ranker(world, cfg, system, spec, yesterday, seq)
                metrics |= {f"day={day}/{k}": v for k, v in day_metrics.items()}
            own_clicks.append(yesterday.filter(pl.col("click")))
            seq = grown_sequences(world, pl.concat(own_clicks), cfg.world.seq_len)
            system.ranker.features = dataclasses.replace(system.ranker.features, seq=seq)
        results[day] = serve_day(world, system, day, seq, run_dir, cfg.clicks, cfg.engine)
    outcome = ArmOutcome(name=name, spec=dataclasses.asdict(spec), model_metrics=metrics,
                         intermediate=provider_metrics(world, provider, seed=cfg.seed),
                         sums=outcome_sums(world, results), seconds=time.perf_counter() - t0)
    outcome.save(folder, key)
    return outcome
