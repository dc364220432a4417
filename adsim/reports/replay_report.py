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
    reads: list[str]                  # ids, clicks, events, affinity, profile, price, embeddings
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


@dataclass
class ReplayCoverageReport:
    """Coverage of replay's interval for the AUC difference (embeddings − base) over fresh draws."""

    draws: int
    level: float
    truth_auc_diff: float           # expected AUC difference over the population, mean over the seed pool
    covered: int
    coverage: float
    coverage_ci: list[float]        # Clopper–Pearson, 95 %
    mean_se: float
    spread: float                   # sd of the estimates over draws
    se_over_spread: float
    mean_estimate: float
    settings: dict

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    def to_frame(self) -> pl.DataFrame:
        """One row: the study's figures."""
        lo, hi = self.coverage_ci
        return pl.DataFrame([{k: v for k, v in self.to_json().items() if k not in ("coverage_ci", "settings")}
                             | {"coverage_ci_low": lo, "coverage_ci_high": hi}])

    def lines(self) -> list[str]:
        lo, hi = (self.coverage_ci + [float("nan")] * 2)[:2]
        return [f"replay AUC difference (embeddings − base), {self.draws} draws: truth {self.truth_auc_diff:+.4f}, "
                f"mean estimate {self.mean_estimate:+.4f}",
                f"{self.level:.0%} intervals covering the truth: {self.covered}/{self.draws} = {self.coverage:.1%} "
                f"(95 % CI [{lo:.1%}, {hi:.1%}]); mean SE / spread of the estimates {self.se_over_spread:.2f}"]
