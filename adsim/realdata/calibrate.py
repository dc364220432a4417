"""`adsim calibrate`: fit the world's knobs a real log identifies, and show the world built from
them beside the log.

The log's statistics (adsim.datasets.log_stats) set the knobs directly where the world's generator
has the statistic's own model: the position decay (the world's clicks follow the same
position-based model), the activity tail (requests per user are Poisson given a lognormal
activity), the sequence length (the 90th percentile of clicks per user) and the price median and
spread (scaled against the base world's catalogue). The click-through level is then matched on a
world built with those knobs: its day-0 impressions give each shown ad's P(click | examined), and
the shift of their logits that makes the expected CTR under the fitted decay equal the log's is
found by bisection. A world built from the written config is served once more and its statistics
are reported beside the log's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from adsim.core.config import ExperimentConfig
from adsim.core.errors import DataError
from adsim.core.files import write_json, write_text
from adsim.core.toml_text import to_toml
from adsim.datasets.log_stats import LogCounts, LogStats, log_stats, stats_from_counts
from adsim.datasets.log_table import PreparedLog, iter_parts, prepare
from adsim.runs.protocol import bootstrap_system, logged_sequences, read_impressions
from adsim.reports.calibration_report import CalibrationReport, calibration_markdown
from adsim.reports.render.plots import calibration_plot
from adsim.serving.engine import serve_day
from adsim.truth.ground_truth import examination
from adsim.world.build import World, build_world


MAX_SEQ_LEN = 256  # a real behaviour log runs to thousands of events per user; rankers read the last few dozen


@dataclass(frozen=True)
class Knobs:
    """The config keys calibration sets."""

    position_decay: float   # clicks.position_decay
    ctr_shift: float        # clicks.ctr_shift
    activity_sigma: float   # world.activity_sigma
    seq_len: int            # world.seq_len
    price_median: float     # world.price_median
    price_sigma: float      # world.price_sigma

    @staticmethod
    def of(cfg: ExperimentConfig) -> "Knobs":
        w = cfg.world
        return Knobs(cfg.clicks.position_decay, cfg.clicks.ctr_shift, w.activity_sigma, w.seq_len, w.price_median, w.price_sigma)

    def apply(self, cfg: ExperimentConfig) -> ExperimentConfig:
        world = dataclasses.replace(cfg.world, activity_sigma=self.activity_sigma, seq_len=self.seq_len,
                                    price_median=self.price_median, price_sigma=self.price_sigma)
        clicks = dataclasses.replace(cfg.clicks, position_decay=self.position_decay, ctr_shift=self.ctr_shift)
        return dataclasses.replace(cfg, world=world, clicks=clicks)


def slot_ranks(names: np.ndarray, order: list[str] | None) -> np.ndarray:
    """Each slot code's place in `order` (default: the names' sort order, which is the vocabulary's)."""
    if order is None:
        return np.arange(len(names))
    if set(order) != set(names.tolist()) or len(set(order)) != len(order):
        raise DataError(f"--slot-order must name every slot of the log once: {', '.join(names.tolist())}")
    return np.array([order.index(n) for n in names])


def prepared_log_stats(log: PreparedLog, behaviour_per_user: np.ndarray | None = None,
                       slot_order: list[str] | None = None) -> LogStats:
    """LogStats of a prepared public log, part by part (memory follows the catalogue and the users,
    not the rows); the behaviour per user is `behaviour_per_user` (a behaviour log's events) or else
    the user's clicks in the training split."""
    ranks = slot_ranks(log.vocab["slot"], slot_order)
    category = log.item_side["category"]
    shape = (len(ranks), log.size("item"), log.size("user"), log.size("category"))
    total = None
    for part in iter_parts(log):
        counts = LogCounts.of(part.user, part.time, part.item, ranks[part.slot.astype(np.int64)], part.click,
                              category[part.item], shape)
        train = part.split == 0
        counts.behaviour = np.bincount(part.user[train], part.click[train].astype(np.float64), shape[2])
        total = counts if total is None else total.add(counts)
    behaviour = total.behaviour[total.requests > 0] if behaviour_per_user is None else behaviour_per_user
    return stats_from_counts(total, behaviour, log.item_price[1:])


def behaviour_counts(data: str | Path, fmt: str) -> np.ndarray | None:
    """Events per user of Taobao's behavior_log where the folder has one (the sequences DIN reads)."""
    from adsim.datasets import taobao
    if fmt != "taobao" or not any((Path(data) / f"behavior_log{s}").is_file() for s in taobao.SUFFIXES):
        return None
    counts = taobao.behaviour(data).group_by("user").len().collect(engine="streaming")
    return counts["len"].to_numpy().astype(np.float64)


def world_day0(cfg: ExperimentConfig, run_dir: Path) -> tuple[World, pl.DataFrame]:
    """A world of `cfg` and its bootstrap system's day-0 impressions."""
    world = build_world(cfg)
    serve_day(world, bootstrap_system(world, cfg), 0, logged_sequences(world, cfg.world.seq_len), run_dir, cfg.clicks, cfg.engine)
    return world, read_impressions(run_dir, "bootstrap", 0)


def world_log_stats(world: World, imp: pl.DataFrame) -> LogStats:
    """The same statistics of a world's day-0 log: a request is a moment; clicks per user are the
    logged behaviour the system reads (history clicks, capped at seq_len)."""
    item = imp["item_id"].to_numpy()
    hist = np.bincount(world.history.user_id, minlength=len(world.users.user_id))
    users = np.unique(imp["user_id"].to_numpy())
    return log_stats(imp["user_id"].to_numpy(), imp["request_id"].to_numpy(), item, imp["position"].to_numpy().astype(np.int64),
                     imp["click"].to_numpy(), world.items.leaf[item].astype(np.int64),
                     np.minimum(hist, world.spec.world.seq_len)[users], world.items.price.astype(np.float64))


def fit_shape(stats: LogStats, base: ExperimentConfig, base_world: World) -> Knobs:
    """The knobs the log sets directly (the CTR shift stays the base's)."""
    k = Knobs.of(base)
    price = base_world.items.price.astype(np.float64)
    median, sigma = k.price_median, k.price_sigma
    if stats.price_median is not None:
        median = stats.price_median * k.price_median / float(np.median(price))  # prices scale with the median
        other = float(np.log(price).var()) - k.price_sigma ** 2  # tiers and noise around the category's price
        sigma = float(np.sqrt(max(stats.price_log_sd ** 2 - other, 0.05 ** 2)))
    return dataclasses.replace(
        k, position_decay=k.position_decay if stats.position_decay is None else float(np.clip(stats.position_decay, 0.0, 5.0)),
        activity_sigma=float(np.clip(stats.activity_sigma, 0.0, 4.0)),
        seq_len=int(np.clip(round(stats.seq_len[1]), 1, MAX_SEQ_LEN)),
        price_median=float(median), price_sigma=float(min(sigma, 4.0)))


def ctr_shift(imp: pl.DataFrame, old: Knobs, decay: float, target: float) -> float:
    """The ctr_shift whose expected CTR on these impressions, under `decay`, is `target`."""
    pos = imp["position"].to_numpy().astype(np.float64)
    attract = imp["true_ctr"].to_numpy().astype(np.float64) / examination(pos, old.position_decay)
    logit = np.log(np.clip(attract, 1e-9, 1 - 1e-9) / np.clip(1 - attract, 1e-9, None))
    exam = examination(pos, decay).astype(np.float64)

    def ctr(d: float) -> float:
        return float((exam / (1 + np.exp(-(logit + d)))).mean())

    lo, hi = -12.0, 12.0
    for _ in range(60):  # expected CTR rises with the shift: bisection
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if ctr(mid) < target else (lo, mid)
    return float(np.clip(old.ctr_shift + (lo + hi) / 2, -6.0, 6.0))


NOT_FITTED = ["category Zipf exponent (the world's category shares come from its users' tastes)",
              "sizes (users, items and requests stay the base config's; set them with --set)"]


def refine(first: Knobs, stats: LogStats, world: LogStats, imp: pl.DataFrame, clicks_identified: bool) -> Knobs:
    """One step of indirect inference: the world built from `first` is measured with the log's own
    estimators (`world`), and each knob moves by the gap between the log's statistic and the world's
    (the PBM fit, for one, reads a ranked log's decay high, and does so in the world alike)."""
    k = first
    k = dataclasses.replace(k, activity_sigma=float(np.clip(k.activity_sigma + stats.activity_sigma - world.activity_sigma, 0, 4)))
    if stats.price_median is not None and world.price_median:
        sigma2 = k.price_sigma ** 2 + stats.price_log_sd ** 2 - world.price_log_sd ** 2
        k = dataclasses.replace(k, price_median=k.price_median * stats.price_median / world.price_median,
                                price_sigma=float(np.clip(np.sqrt(max(sigma2, 0.05 ** 2)), 0, 4)))
    if clicks_identified and stats.position_decay is not None and world.position_decay is not None:
        decay = float(np.clip(k.position_decay + stats.position_decay - world.position_decay, 0.0, 5.0))
        k = dataclasses.replace(k, position_decay=decay, ctr_shift=ctr_shift(imp, first, decay, stats.ctr))
    return k


def fit_knobs(stats: LogStats, base: ExperimentConfig, out: Path, clicks_identified: bool) -> tuple[Knobs, LogStats]:
    """The fitted knobs and the base world's statistics: the knobs the log sets directly, the CTR
    shift matched on a world built with them, then one refining step on the world they make."""
    base_world, base_imp = world_day0(base, out / "worlds" / "base")
    shape = fit_shape(stats, base, base_world)
    if not clicks_identified:
        shape = dataclasses.replace(shape, position_decay=base.clicks.position_decay)
    first = shape
    if clicks_identified:
        _, shaped_imp = world_day0(shape.apply(base), out / "worlds" / "shaped")
        first = dataclasses.replace(shape, ctr_shift=ctr_shift(shaped_imp, shape, shape.position_decay, stats.ctr))
    world, imp = world_day0(first.apply(base), out / "worlds" / "first")
    return refine(first, stats, world_log_stats(world, imp), imp, clicks_identified), world_log_stats(base_world, base_imp)


def run_calibrate(data: str | Path, fmt: str, base: ExperimentConfig, out: str | Path, seed: int = 0,
                  slot_order: list[str] | None = None) -> CalibrationReport:
    """Fit the knobs to the log in `data`, write calibrated.toml, report.json/.md and calibration.png.
    A log without unclicked impressions (Amazon reviews) identifies neither the CTR level nor the
    position decay; those stay the base config's."""
    from adsim.realdata.replay import log_source
    from adsim.realdata.replay_settings import ReplaySettings
    out = Path(out)
    source = log_source(data, fmt, ReplaySettings(seed=seed))
    log = prepare(source, out / "prepared", seed)
    stats = prepared_log_stats(log, behaviour_counts(data, fmt), slot_order)
    clicks_identified = source.negatives == 0
    fitted, base_stats = fit_knobs(stats, base, out, clicks_identified)
    cfg = fitted.apply(base)
    calibrated_world, calibrated_imp = world_day0(cfg, out / "worlds" / "calibrated")
    path = out / "calibrated.toml"
    write_text(to_toml(cfg.to_dict(), f"adsim calibrate: {log.name}\nthe base config with the knobs the log identifies"), path)
    series = {"log": stats, "base world": base_stats, "calibrated world": world_log_stats(calibrated_world, calibrated_imp)}
    fitted_keys = [k for k in Knobs.__dataclass_fields__ if clicks_identified or k not in ("position_decay", "ctr_shift")]
    report = CalibrationReport(
        dataset=log.name, config_path=str(path), base_knobs=dataclasses.asdict(Knobs.of(base)),
        fitted_knobs=dataclasses.asdict(fitted), log=dataclasses.asdict(stats),
        base_world=dataclasses.asdict(series["base world"]), calibrated_world=dataclasses.asdict(series["calibrated world"]),
        fitted_from_log=fitted_keys, not_fitted=NOT_FITTED + ([] if clicks_identified else [
            "CTR level and position decay (the log has no unclicked impressions)"]),
        slot_names=[str(n) for n in log.vocab["slot"][np.argsort(slot_ranks(log.vocab["slot"], slot_order))]])
    write_json(report.to_json(), out / "report.json")
    write_text(calibration_markdown(report), out / "report.md")
    calibration_plot(out / "calibration.png", {k: dataclasses.asdict(v) for k, v in series.items()})
    return report
