"""The encoder comparison: every encoder's intermediate metrics side by side, and paired
differences of recall@10 between chosen pairs, with bootstrap CIs over the same queries."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import polars as pl

from adsim.core.vocab import HEADLINE_RECALLS, I2I_RECALL, PERSONAL_AUC, PROBES, probe_metric

HEADLINE = HEADLINE_RECALLS + (I2I_RECALL, PERSONAL_AUC) + tuple(probe_metric(a) for a in PROBES) + ("alignment", "uniformity")


@dataclass(frozen=True)
class RecallDifference:
    """A metric of encoder a minus that of encoder b: recall@k on the same held-out queries, or a
    probe's accuracy on the same held-out items."""

    a: str
    b: str
    metric: str
    difference: float
    ci_low: float
    ci_high: float


@dataclass
class CompareReport:
    """`adsim encoder compare`: encoders side by side on the intermediate metrics, with
    bootstrap intervals."""

    config_hash: str
    encoder_train: dict
    results: dict[str, dict[str, float]]  # encoder -> intermediate metrics
    differences: list[RecallDifference]

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    def to_frame(self) -> pl.DataFrame:
        """One row per encoder with its intermediate metrics."""
        return pl.DataFrame([{"encoder": e, **m} for e, m in self.results.items()])


def compare_markdown(report: CompareReport, k: int = 10) -> str:
    lines = ["| encoder | " + " | ".join(HEADLINE) + " |", "| --- |" + " ---: |" * len(HEADLINE)]
    for name, m in report.results.items():
        lines.append(f"| {name} | " + " | ".join(f"{m[h]:.3f}" if h in m else "–" for h in HEADLINE) + " |")
    lines += ["", f"Paired differences in recall@{k} (same held-out queries) and probe accuracy (same held-out items); "
              "95 % bootstrap CI over those units:", "",
              "| a − b | metric | difference | 95 % CI |", "| --- | --- | ---: | --- |"]
    for d in report.differences:
        lines.append(f"| {d.a} − {d.b} | {d.metric} | {d.difference:+.3f} | [{d.ci_low:+.3f}, {d.ci_high:+.3f}] |")
    return "\n".join(lines) + "\n"
