"""`adsim replay`: the TorchRec ranker trained on a real log, with and without a team's content
embeddings, scored on the log's held-out split (the offline check the MOON papers report).

The log is prepared once (adsim.datasets: encoded, sorted, in parts of whole users). Training
streams the parts in a seeded random order, rows shuffled within a part, so memory follows the part
size. Every row's click sequence is the user's clicked items strictly before it; where the log has
a behaviour log, the ranker also reads the user's behaviour events strictly before the row, and the
profile and the ad's price where present (adsim.realdata.log_features; `log_features` switches
them). Each ranker trains with `seeds` seeds; the intervals (adsim.stats.replay_stats) carry the
held-out users and the training seeds. The rankers: `base` (no content embeddings), one per
embedding set, with `ablation` the base without each log feature (and without the behaviour log's
two, events and affinity, together), and, with a behaviour log, the
category-share heuristic the field compares against.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Iterator

import numpy as np

from adsim.core.config import RankerConfig
from adsim.core.errors import DataError
from adsim.core.files import write_json, write_text
from adsim.core.rng import generator, replicate_seed
from adsim.core.vocab import REPLAY_METRICS
from adsim.datasets import amazon, taobao
from adsim.datasets.log_table import LogSource, PreparedLog, prepare
from adsim.realdata.log_features import batch_side, category_share, log_sizes, part_side, price_buckets
from adsim.realdata.replay_settings import BASELINE, FORMATS, HEURISTIC, ReplaySettings
from adsim.stats.replay_stats import Estimate, HeldOut, combine, metric_draws
from adsim.reports.replay_report import ReplayArmResult, ReplayReport, replay_markdown
from encoders.precomputed import read_keyed_embeddings
from stages.ranker.model import CtrModel
from stages.ranker.features import LogSizes, RankerBatch, RankerFeatures, TableSizes
from stages.sequences import causal_click_sequences

EVAL_BATCH = 8192


def log_source(data: str | Path, fmt: str, s: ReplaySettings) -> LogSource:
    if fmt == "taobao":
        return taobao.log_source(data)
    if fmt == "amazon":
        return amazon.log_source(data, s.category, s.split, s.negatives)
    raise DataError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def _features(log: PreparedLog, item_emb: np.ndarray) -> RankerFeatures:
    side = log.item_side
    return RankerFeatures(advertiser=side["advertiser"], brand=side["brand"], leaf=side["category"], item_emb=item_emb)


@dataclasses.dataclass(frozen=True)
class _Reads:
    """What one ranker reads: its item-side features, its settings and the log's parts it uses."""

    features: RankerFeatures
    cfg: RankerConfig
    sizes: LogSizes | None
    event_len: int
    prices: np.ndarray


def _batches(log: PreparedLog, reads: _Reads, split: int, size: int, rng: np.random.Generator | None) -> Iterator[RankerBatch]:
    """Batches of the rows of one split, part by part (shuffled parts and rows when `rng` is given)."""
    paths, cfg, features = log.parts(), reads.cfg, reads.features
    for k in (rng.permutation(len(paths)) if rng is not None else range(len(paths))):
        part = log.read_part(paths[k])
        side = part_side(log, part, log.behaviour_part(paths[k]), reads.sizes)
        seq = causal_click_sequences(part.user, part.time, part.item, part.click, cfg.seq_len)
        rows = np.flatnonzero(part.split == split)
        if rng is not None:
            rows = rng.permutation(rows)
        for s in range(0, len(rows), size):
            r = rows[s:s + size]
            b = features.batch(part.user[r], np.zeros(len(r), np.int64), np.zeros((len(r), features.item_emb.shape[1]), np.float32),
                               part.item[r, None], seq[r], cfg.seq_len, position=part.slot[r, None],
                               label=part.click[r, None].astype(np.float32))
            b.log = batch_side(log, part, side, r, reads.sizes, reads.event_len, reads.prices)
            yield b


def arm_reads(log: PreparedLog, s: ReplaySettings, features: tuple[str, ...], emb: np.ndarray | None,
              prices: np.ndarray) -> _Reads:
    """What a ranker reads: the log `features` it is given and, with `emb`, content embeddings."""
    cfg = dataclasses.replace(s.ranker, use_embeddings=emb is not None)
    item_emb = np.zeros((log.size("item"), 1), np.float32) if emb is None else emb
    return _Reads(_features(log, item_emb), cfg, log_sizes(log, features), s.event_len, prices)


class _Epochs:
    """The training stream: each pass (epoch) draws a new order from the ranker's seed."""

    def __init__(self, log: PreparedLog, reads: _Reads, seed: int):
        self.log, self.reads, self.seed, self.epoch = log, reads, seed, 0

    def __call__(self) -> Iterator[RankerBatch]:
        self.epoch += 1
        return _batches(self.log, self.reads, 0, self.reads.cfg.batch_size, generator(self.seed, "replay-order", self.epoch))


def _sizes(log: PreparedLog, sizes: LogSizes | None) -> TableSizes:
    return TableSizes(users=log.size("user"), items=log.size("item"), advertisers=log.size("advertiser"),
                      brands=log.size("brand"), leaves=log.size("category"), log=sizes)


def held_out_scores(log: PreparedLog, reads: _Reads, seed: int, train_ctr: float) -> np.ndarray:
    """P(click) of every held-out row, in log order, from a ranker trained on the training rows
    (whose click rate is `train_ctr`)."""
    model = CtrModel(reads.cfg, _sizes(log, reads.sizes), reads.features, max(log.size("slot"), 1), seed)
    model.fit_stream(_Epochs(log, reads, seed), train_ctr)
    logits = [model.logits_of(b)[:, 0] for b in _batches(log, reads, 1, EVAL_BATCH, None)]
    return 1 / (1 + np.exp(-np.concatenate(logits).astype(np.float64)))


def held_out_split(log: PreparedLog, s: ReplaySettings) -> tuple[HeldOut, int, float, np.ndarray | None]:
    """The held-out rows, the number of training rows, their click rate, and the category-share
    heuristic's score of each held-out row (None without a behaviour log)."""
    labels, users, shares, n_train, train_clicks = [], [], [], 0, 0
    sizes = log_sizes(log, ("affinity",))
    for path in log.parts():
        part = log.read_part(path)
        test = part.split == 1
        labels.append(part.click[test])
        users.append(part.user[test])
        shares.append(category_share(part_side(log, part.rows(test), log.behaviour_part(path), sizes)))  # held-out rows only
        n_train += int((~test).sum())
        train_clicks += int(part.click[~test].sum())
    label, user = np.concatenate(labels), np.concatenate(users)
    if n_train == 0 or len(label) == 0 or label.min() == label.max():
        raise DataError(f"{log.name}: the split needs training rows and held-out rows with both clicks and non-clicks")
    heuristic = np.concatenate(shares) if shares and shares[0] is not None else None
    return HeldOut.of(label, user, s.seed, s.n_boot), n_train, train_clicks / n_train, heuristic


def _arm_draws(log: PreparedLog, held: HeldOut, reads: _Reads, s: ReplaySettings,
               train_ctr: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per metric: the values (seeds,) and bootstrap draws (seeds, n_boot) of one ranker."""
    per_seed = [metric_draws(held, held_out_scores(log, reads, replicate_seed(s.seed + reads.cfg.seed, k), train_ctr))
                for k in range(s.seeds)]
    return {m: (np.array([d[m][0] for d in per_seed]), np.stack([d[m][1] for d in per_seed])) for m in REPLAY_METRICS}


def _as_dict(e: Estimate) -> dict[str, float]:
    return dataclasses.asdict(e)


def run_replay(data: str | Path, fmt: str, embeddings: dict[str, Path], out: str | Path,
               s: ReplaySettings = ReplaySettings()) -> ReplayReport:
    """Prepare the log under `out`, train and score the base ranker (no content embeddings), one per
    embedding set and the ablations, score the heuristic, write report.json and report.md, and
    return the report."""
    out = Path(out)
    for name, path in embeddings.items():  # before the log is prepared: a wrong path costs nothing
        if path.suffix != ".parquet" or not path.is_file():
            raise DataError(f"embeddings {name}: {path} " + ("is a missing file" if path.suffix == ".parquet"
                                                           else "must be a .parquet file with item_id and embedding columns"))
    log = prepare(log_source(data, fmt, s), out / "prepared", s.seed)
    held, n_train, train_ctr, heuristic = held_out_split(log, s)
    used = tuple(f for f in s.log_features if log_sizes(log, (f,)) is not None)
    tables = {name: read_keyed_embeddings(path, log.vocab["item"]) for name, path in embeddings.items()}
    prices = price_buckets(log.item_price)

    def arm(name: str, features: tuple[str, ...], emb: tuple[np.ndarray, int] | None, base: dict | None):
        reads = arm_reads(log, s, features, None if emb is None else emb[0], prices)
        draws = _arm_draws(log, held, reads, s, train_ctr)
        path = str(embeddings[name]) if emb is not None else None
        return draws, _result(name, ["ids", "clicks", *features] + (["embeddings"] if emb else []), path,
                              emb[1] if emb else 0, draws, base, s)

    base, first = arm(BASELINE, used, None, None)
    arms = [first] + [arm(name, used, table, base)[1] for name, table in tables.items()]
    if s.ablation:
        drops = [(f,) for f in used] + ([("events", "affinity")] if {"events", "affinity"} <= set(used) else [])
        arms += [arm(f"{BASELINE}-no-{'behaviour-log' if len(d) == 2 else d[0]}", tuple(g for g in used if g not in d), None, base)[1]
                 for d in drops]
    if heuristic is not None:
        arms.append(_heuristic(held, heuristic, base, s))
    report = ReplayReport(
        dataset=log.name, format=fmt, n_train=n_train, n_test=len(held.label), n_test_users=held.weights.shape[1],
        test_ctr=float(held.label.mean()), seeds=s.seeds, n_boot=s.n_boot, level=s.level,
        ranker=dataclasses.asdict(s.ranker), log_features=list(used), arms=arms,
        covers="which users were held out (a bootstrap over held-out users, paired across rankers) and the training seeds"
               + (" (their spread over the seeds run)" if s.seeds > 1 else " (not with one seed: run --seeds 2 or more)"),
        does_not_cover="a different training log (other days, other users), nor the choice of model and its settings")
    write_json(report.to_json(), out / "report.json")
    write_text(replay_markdown(report), out / "report.md")
    return report


def _heuristic(held: HeldOut, share: np.ndarray, base: dict, s: ReplaySettings) -> ReplayArmResult:
    """The category-share heuristic scored like a ranker (one 'seed': it has no training); its
    log-loss is left out, as a share is not a probability."""
    d = metric_draws(held, share)
    draws = {m: (np.array([d[m][0]]), d[m][1][None]) for m in REPLAY_METRICS if m != "log_loss"}
    metrics = {m: _as_dict(combine(*draws[m], level=s.level)) for m in draws}
    vs = {m: _as_dict(combine(draws[m][0] - base[m][0], draws[m][1] - base[m][1], level=s.level)) for m in draws}
    return ReplayArmResult(name=HEURISTIC, reads=["affinity"], embeddings=None, items_without_embedding=0,
                           metrics={**metrics, "log_loss": None}, vs_base={**vs, "log_loss": None},
                           seed_values={m: draws[m][0].tolist() for m in draws})


def _result(name: str, reads: list[str], path: str | None, missing: int, draws: dict, base: dict | None,
            s: ReplaySettings) -> ReplayArmResult:
    metrics = {m: _as_dict(combine(*draws[m], level=s.level)) for m in REPLAY_METRICS}
    vs = None if base is None else {m: _as_dict(combine(draws[m][0] - base[m][0], draws[m][1] - base[m][1], level=s.level))
                                    for m in REPLAY_METRICS}
    return ReplayArmResult(name=name, reads=reads, embeddings=path, items_without_embedding=missing, metrics=metrics, vs_base=vs,
                           seed_values={m: draws[m][0].tolist() for m in REPLAY_METRICS})
