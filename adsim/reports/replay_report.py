"""The log-replay report: each embedding set's ranker against the base ranker (no content
embeddings) on a real log's held-out split, AUC, gAUC and log-loss with intervals (the CTR side of
an exchange-rate point); the base without each log feature (ablations); the category-share
heuristic."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import polars as pl

from adsim.core.vocab import REPLAY_METRICS


@dataclass(frozen=True)
class ReplayArmResult:
    """One ranker (or the heuristic): its metrics and, but for the base ranker, its differences from
    it. Each metric is a dict with value, ci_low, ci_high and se (None where it does not apply: a
    heuristic's log-loss)."""

    name: str
    reads: list[str]                  # ids, clicks, behaviour, profile, price, embeddings
    embeddings: str | None           # the embedding file, None for rankers without
    items_without_embedding: int      # catalogue items the file lacks (their feature is zero)
    metrics: dict[str, dict[str, float] | None]
    vs_base: dict[str, dict[str, float] | None] | None
    seed_values: dict[str, list[float]]  # each metric on the held-out rows, per training seed


@dataclass
class ReplayReport:
    """`adsim replay`: a ranker trained on a public log with and without content embeddings, intervals
    over users and seeds."""

    dataset: str
    format: str
    n_train: int
    n_test: int
    n_test_users: int
    test_ctr: float
    seeds: int
    n_boot: int
    level: float
    ranker: dict
    log_features: list[str]          # what the log gave the rankers besides ids and clicks
    arms: list[ReplayArmResult]
    covers: str
    does_not_cover: str

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    def to_frame(self) -> pl.DataFrame:
        """One row per ranker and metric: value, interval, and the difference from the base ranker."""
        rows = []
        empty = {"value": None, "ci_low": None, "ci_high": None, "se": None}
        for arm in self.arms:
            for m in REPLAY_METRICS:
                d = arm.vs_base[m] if arm.vs_base else None
                rows.append({"ranker": arm.name, "metric": m, **(arm.metrics[m] or empty),
                             "diff": d["value"] if d else None, "diff_ci_low": d["ci_low"] if d else None,
                             "diff_ci_high": d["ci_high"] if d else None})
        return pl.DataFrame(rows)


def _cell(e: dict[str, float] | None, sign: bool = False) -> str:
    if e is None:
        return "–"
    f = "{:+.4f}" if sign else "{:.4f}"
    return f"{f.format(e['value'])} [{f.format(e['ci_low'])}, {f.format(e['ci_high'])}]"


def replay_markdown(report: ReplayReport) -> str:
    pct = f"{report.level:.0%}"
    lines = [f"Replay on {report.dataset}: {report.n_train:,} training rows, {report.n_test:,} held-out rows "
             f"of {report.n_test_users:,} users (CTR {report.test_ctr:.2%}); {report.seeds} training seed(s) per ranker. "
             f"Besides ids and clicks the rankers read: {', '.join(report.log_features) or 'nothing else the log has'}.", "",
             "| ranker | " + " | ".join(f"{m} ({pct} CI)" for m in REPLAY_METRICS) + " |",
             "| --- |" + " --- |" * len(REPLAY_METRICS)]
    for arm in report.arms:
        lines.append(f"| {arm.name} | " + " | ".join(_cell(arm.metrics[m]) for m in REPLAY_METRICS) + " |")
    others = [a for a in report.arms if a.vs_base]
    if others:
        lines += ["", f"Difference from the base ranker, no content embeddings ({pct} CI; log-loss: lower is better):", "",
                  "| ranker | " + " | ".join(f"Δ {m}" for m in REPLAY_METRICS) + " | items without embedding |",
                  "| --- |" + " --- |" * len(REPLAY_METRICS) + " ---: |"]
        for arm in others:
            lines.append(f"| {arm.name} | " + " | ".join(_cell(arm.vs_base[m], True) for m in REPLAY_METRICS)
                         + (f" | {arm.items_without_embedding:,} |" if arm.embeddings else " | – |"))
    lines += ["", f"The intervals cover {report.covers}. They do not cover {report.does_not_cover}."]
    return "\n".join(lines) + "\n"
