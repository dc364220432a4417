"""`adsim validate replay`: do replay's intervals cover the truth?

On a Taobao-format fixture whose click model is known (`--signal embeddings`, with each
impression's P(click) written beside it), the study:

1. prepares the log once and trains a pool of `seed_pool` rankers per arm (the base ranker and the
   one reading the fixture's embeddings) on the seven training days, each scoring every held-out
   row;
2. takes as the truth the difference in **expected AUC** over the whole held-out population (every
   user's eighth day, each row a positive with weight P(click) and a negative with 1 − P(click)),
   averaged over the pool: the quantity replay's interval estimates, a population of users and
   clicks and the training seed's distribution;
3. in each draw, takes `per_draw` held-out users at random, draws their clicks afresh from the true
   P(click), picks `seeds` models of each arm from the pool at random, and computes replay's
   interval exactly as `adsim replay` does (`adsim.stats.replay_stats`: the user bootstrap paired
   across rankers plus the seed spread);
4. reports the share of intervals that cover the truth, with a Clopper–Pearson interval, and the
   ratio of the mean standard error to the spread of the estimates over draws.

What it does not test: a new training log per draw (the training days are fixed; replay's
intervals say they do not cover that either). Two finite populations make the interval a little
conservative here, by design of the study rather than of replay: held-out users are drawn without
replacement (the user bootstrap assumes an infinite population: its variance is too large by
1 / (1 − per_draw / users)), and so are seeds from the pool whose mean is the truth (the seed part
by (seed_pool − 1) / (seed_pool − seeds)).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
from scipy.stats import beta, rankdata

from adsim.core.files import write_json
from adsim.core.rng import generator, replicate_seed
from adsim.datasets.fixtures import FixtureSpec, write_fixture
from adsim.datasets.log_table import PreparedLog, prepare
from adsim.datasets import taobao
from adsim.realdata.log_features import price_buckets
from adsim.realdata.replay import arm_reads, held_out_scores, held_out_split
from adsim.realdata.replay_settings import ReplayCoverageSettings
from adsim.reports.replay_report import ReplayCoverageReport
from adsim.stats.replay_stats import HeldOut, combine, metric_draws
from encoders.precomputed import read_keyed_embeddings


def expected_auc(score: np.ndarray, p: np.ndarray) -> float:
    """AUC against soft labels: each row a positive with weight p and a negative with 1 − p, every
    pair of distinct rows (a row never meets itself, as in a realised AUC)."""
    level = rankdata(score, method="dense").astype(np.int64) - 1
    pos, neg = np.bincount(level, p), np.bincount(level, 1 - p)
    own = float((p * (1 - p)).sum())
    return float(((pos * (np.cumsum(neg) - neg + 0.5 * neg)).sum() - 0.5 * own) / (pos.sum() * neg.sum() - own))


def _held_out_truth(log: PreparedLog, folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """The held-out rows' users (codes) and true P(click), in replay's held-out order."""
    held = [part.rows(part.split == 1) for part in map(log.read_part, log.parts())]
    user, item, time, slot = (np.concatenate([getattr(part, k) for part in held]) for k in ("user", "item", "time", "slot"))
    rows = pl.DataFrame({"user": log.vocab["user"][user].astype(str), "adgroup_id": log.vocab["item"][item].astype(str),
                         "time_stamp": time, "pid": log.vocab["slot"][slot].astype(str), "row": np.arange(len(user))})
    keys = ["user", "adgroup_id", "time_stamp", "pid"]
    truth = pl.read_parquet(folder / "click_probability.parquet").with_columns(
        pl.col("user").cast(pl.String), pl.col("adgroup_id").cast(pl.String)).unique(keys)
    p = rows.join(truth, on=keys, how="left").sort("row")["p"].to_numpy()
    return user, p


def run_replay_coverage(out: str | Path, cs: ReplayCoverageSettings = ReplayCoverageSettings()) -> ReplayCoverageReport:
    """The study above; writes `out/replay_coverage.json`."""
    out, s = Path(out), cs.replay
    spec = FixtureSpec(n_users=cs.users, per_user_day=cs.per_user_day, write_truth=True)
    data = write_fixture("taobao", out / "log", signal="embeddings", seed=s.seed, spec=spec)
    log = prepare(taobao.log_source(data), out / "prepared", s.seed)
    user, p = _held_out_truth(log, data)
    emb, _ = read_keyed_embeddings(data / "item_embeddings.parquet", log.vocab["item"])
    _, _, train_ctr, _ = held_out_split(log, s)
    prices = price_buckets(log.item_price)
    arms = {"base": arm_reads(log, s, s.log_features, None, prices), "embeddings": arm_reads(log, s, s.log_features, emb, prices)}
    scores = {a: [held_out_scores(log, r, replicate_seed(s.seed + s.ranker.seed, k), train_ctr) for k in range(cs.seed_pool)]
              for a, r in arms.items()}
    truth = float(np.mean([expected_auc(x, p) for x in scores["embeddings"]]) - np.mean([expected_auc(x, p) for x in scores["base"]]))
    estimates, ses, covered = [], [], 0
    users = np.unique(user)
    for d in range(cs.draws):
        rng = generator(s.seed, "replay-coverage", d)
        rows = np.isin(user, rng.choice(users, cs.per_draw, replace=False))
        clicks = (rng.random(int(rows.sum())) < p[rows]).astype(np.int8)
        held = HeldOut.of(clicks, user[rows], replicate_seed(s.seed, d), s.n_boot)
        picked = rng.choice(cs.seed_pool, s.seeds, replace=False)  # seed k of each arm, paired as replay pairs them
        per_arm = {a: [metric_draws(held, scores[a][k][rows])["auc"] for k in picked] for a in arms}
        values = np.array([v for v, _ in per_arm["embeddings"]]) - np.array([v for v, _ in per_arm["base"]])
        draws = np.stack([b for _, b in per_arm["embeddings"]]) - np.stack([b for _, b in per_arm["base"]])
        est = combine(values, draws, level=s.level)
        estimates.append(est.value)
        ses.append(est.se)
        covered += int(est.ci_low <= truth <= est.ci_high)
    report = _report(cs, truth, np.array(estimates), np.array(ses), covered)
    write_json(report.to_json(), out / "replay_coverage.json")
    return report


def _report(cs: ReplayCoverageSettings, truth: float, est: np.ndarray, se: np.ndarray, covered: int) -> ReplayCoverageReport:
    n = cs.draws
    lo = float(beta.ppf(0.025, covered, n - covered + 1)) if covered else 0.0
    hi = float(beta.ppf(0.975, covered + 1, n - covered)) if covered < n else 1.0
    spread = float(est.std(ddof=1)) if n > 1 else float("nan")
    return ReplayCoverageReport(
        draws=n, level=cs.replay.level, truth_auc_diff=truth, covered=covered, coverage=covered / n, coverage_ci=[lo, hi],
        mean_se=float(se.mean()), spread=spread, se_over_spread=float(se.mean() / spread) if n > 1 and spread > 0 else float("nan"),
        mean_estimate=float(est.mean()),
        settings={"users": cs.users, "per_draw": cs.per_draw, "per_user_day": cs.per_user_day, "seed_pool": cs.seed_pool,
                  "seeds": cs.replay.seeds, "n_boot": cs.replay.n_boot, "seed": cs.replay.seed})
