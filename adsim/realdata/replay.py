"""`adsim replay`: the TorchRec ranker trained on a real log, with and without a team's content
embeddings, scored on the log's held-out split (the offline check the MOON papers report).

The log is prepared once (adsim.datasets: encoded, sorted, in parts of whole users). Training
streams the parts in a seeded random order, rows shuffled within a part, so memory follows the part
size. Every row's behaviour sequence is the user's clicked items strictly before it. Each ranker
trains with `seeds` seeds; the intervals (experiments.replay_stats) carry the held-out users and
the training seeds.
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
from adsim.datasets.log_table import LogSource, PreparedLog, iter_parts, prepare
from adsim.realdata.replay_settings import BASELINE, FORMATS, ReplaySettings
from adsim.stats.replay_stats import Estimate, HeldOut, combine, metric_draws
from adsim.reports.replay_report import ReplayArmResult, ReplayReport, replay_markdown
from encoders.precomputed import read_keyed_embeddings
from stages.ranker.model import CtrModel
from stages.ranker.features import RankerBatch, RankerFeatures, TableSizes
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


def _batches(log: PreparedLog, features: RankerFeatures, cfg: RankerConfig, split: int, size: int,
             rng: np.random.Generator | None) -> Iterator[RankerBatch]:
    """Batches of the rows of one split, part by part (shuffled parts and rows when `rng` is given)."""
    paths = log.parts()
    for k in (rng.permutation(len(paths)) if rng is not None else range(len(paths))):
        part = log.read_part(paths[k])
        seq = causal_click_sequences(part.user, part.time, part.item, part.click, cfg.seq_len)
        rows = np.flatnonzero(part.split == split)
        if rng is not None:
            rows = rng.permutation(rows)
        for s in range(0, len(rows), size):
            r = rows[s:s + size]
            yield features.batch(part.user[r], np.zeros(len(r), np.int64), np.zeros((len(r), features.item_emb.shape[1]), np.float32),
                                 part.item[r, None], seq[r], cfg.seq_len, position=part.slot[r, None],
                                 label=part.click[r, None].astype(np.float32))


class _Epochs:
    """The training stream: each pass (epoch) draws a new order from the ranker's seed."""

    def __init__(self, log: PreparedLog, features: RankerFeatures, cfg: RankerConfig, seed: int):
        self.args, self.seed, self.epoch = (log, features, cfg), seed, 0

    def __call__(self) -> Iterator[RankerBatch]:
        self.epoch += 1
        log, features, cfg = self.args
        return _batches(log, features, cfg, 0, cfg.batch_size, generator(self.seed, "replay-order", self.epoch))


def _sizes(log: PreparedLog) -> TableSizes:
    return TableSizes(users=log.size("user"), items=log.size("item"), advertisers=log.size("advertiser"),
                      brands=log.size("brand"), leaves=log.size("category"))


def _train_and_score(log: PreparedLog, features: RankerFeatures, cfg: RankerConfig, seed: int, train_ctr: float) -> np.ndarray:
    """P(click) of every held-out row, in log order, from a ranker trained on the training rows
    (whose click rate is `train_ctr`)."""
    model = CtrModel(cfg, _sizes(log), features, max(log.size("slot"), 1), seed)
    model.fit_stream(_Epochs(log, features, cfg, seed), train_ctr)
    logits = [model.logits_of(b)[:, 0] for b in _batches(log, features, cfg, 1, EVAL_BATCH, None)]
    return 1 / (1 + np.exp(-np.concatenate(logits).astype(np.float64)))


def _held_out(log: PreparedLog, s: ReplaySettings) -> tuple[HeldOut, int, float]:
    """The held-out rows, the number of training rows and their click rate."""
    labels, users, n_train, train_clicks = [], [], 0, 0
    for part in iter_parts(log):
        test = part.split == 1
        labels.append(part.click[test])
        users.append(part.user[test])
        n_train += int((~test).sum())
        train_clicks += int(part.click[~test].sum())
    label, user = np.concatenate(labels), np.concatenate(users)
    if n_train == 0 or len(label) == 0 or label.min() == label.max():
        raise DataError(f"{log.name}: the split needs training rows and held-out rows with both clicks and non-clicks")
    return HeldOut.of(label, user, s.seed, s.n_boot), n_train, train_clicks / n_train


def _arm_draws(log: PreparedLog, held: HeldOut, features: RankerFeatures, cfg: RankerConfig,
               s: ReplaySettings, train_ctr: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per metric: the values (seeds,) and bootstrap draws (seeds, n_boot) of one ranker."""
    per_seed = [metric_draws(held, _train_and_score(log, features, cfg, replicate_seed(s.seed + cfg.seed, k), train_ctr))
                for k in range(s.seeds)]
    return {m: (np.array([d[m][0] for d in per_seed]), np.stack([d[m][1] for d in per_seed])) for m in REPLAY_METRICS}


def _as_dict(e: Estimate) -> dict[str, float]:
    return dataclasses.asdict(e)


def run_replay(data: str | Path, fmt: str, embeddings: dict[str, Path], out: str | Path,
               s: ReplaySettings = ReplaySettings()) -> ReplayReport:
    """Prepare the log under `out`, train and score the ID-only ranker and one per embedding set,
    write report.json and report.md, and return the report."""
    out = Path(out)
    for name, path in embeddings.items():  # before the log is prepared: a wrong path costs nothing
        if path.suffix != ".parquet" or not path.is_file():
            raise DataError(f"embeddings {name}: {path} " + ("is a missing file" if path.suffix == ".parquet"
                                                           else "must be a .parquet file with item_id and embedding columns"))
    log = prepare(log_source(data, fmt, s), out / "prepared", s.seed)
    held, n_train, train_ctr = _held_out(log, s)
    n_items = log.size("item")
    tables = {name: read_keyed_embeddings(path, log.vocab["item"]) for name, path in embeddings.items()}
    base_cfg = dataclasses.replace(s.ranker, use_embeddings=False)
    base = _arm_draws(log, held, _features(log, np.zeros((n_items, 1), np.float32)), base_cfg, s, train_ctr)
    arms = [_result(BASELINE, None, 0, base, None, s)]
    for name, (emb, missing) in tables.items():
        draws = _arm_draws(log, held, _features(log, emb), dataclasses.replace(s.ranker, use_embeddings=True), s, train_ctr)
        arms.append(_result(name, str(embeddings[name]), missing, draws, base, s))
    report = ReplayReport(
        dataset=log.name, format=fmt, n_train=n_train, n_test=len(held.label), n_test_users=held.weights.shape[1],
        test_ctr=float(held.label.mean()), seeds=s.seeds, n_boot=s.n_boot, level=s.level,
        ranker=dataclasses.asdict(s.ranker), arms=arms,
        covers="which users were held out (a bootstrap over held-out users, paired across rankers) and the training seeds"
               + (" (their spread over the seeds run)" if s.seeds > 1 else " (not with one seed: run --seeds 2 or more)"),
        does_not_cover="a different training log (other days, other users), nor the choice of model and its settings")
    write_json(report.to_json(), out / "report.json")
    write_text(replay_markdown(report), out / "report.md")
    return report


def _result(name: str, path: str | None, missing: int, draws: dict, base: dict | None, s: ReplaySettings) -> ReplayArmResult:
    metrics = {m: _as_dict(combine(*draws[m], level=s.level)) for m in REPLAY_METRICS}
    vs = None if base is None else {m: _as_dict(combine(draws[m][0] - base[m][0], draws[m][1] - base[m][1], level=s.level))
                                    for m in REPLAY_METRICS}
    return ReplayArmResult(name=name, embeddings=path, items_without_embedding=missing, metrics=metrics, vs_ids=vs,
                           seed_values={m: draws[m][0].tolist() for m in REPLAY_METRICS})
