"""The encoder comparison: every encoder's intermediate metrics side by side (means over training
seeds), and paired differences between chosen pairs, with CIs over the same queries or items and
the training seeds."""

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
    difference: float  # the mean over seeds
    ci_low: float
    ci_high: float
    se: float  # units' bootstrap and seeds' spread together
    per_seed: list[float]  # the difference at each seed index


@dataclass
class CompareReport:
    """`adsim encoder compare`: encoders side by side on the intermediate metrics, with
    bootstrap intervals."""

    config_hash: str
    encoder_train: dict
    seeds: int  # training seeds per trained row
    results: dict[str, dict[str, float]]  # encoder -> intermediate metrics, the mean over its seeds
    per_seed: dict[str, list[dict[str, float]]]  # encoder -> each seed's metrics (one for an untrained row)
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
    noise = (f"the units (bootstrap) and the {report.seeds} training seeds (their spread, t({report.seeds - 1}))"
             if report.seeds > 1 else "those units (bootstrap; one training seed, so not the seed)")
    lines += ["", f"Rows are means over {report.seeds} training seed(s). Paired differences in recall@{k} (same held-out "
              f"queries) and probe accuracy (same held-out items), at the same seed index; 95 % CI over {noise}:", "",
              "| a − b | metric | difference | 95 % CI | per seed |", "| --- | --- | ---: | --- | --- |"]
    for d in report.differences:
        lines.append(f"| {d.a} − {d.b} | {d.metric} | {d.difference:+.3f} | [{d.ci_low:+.3f}, {d.ci_high:+.3f}] | "
                     + ", ".join(f"{x:+.3f}" for x in d.per_seed) + " |")
    return "\n".join(lines) + "\n"
