"""The A/A report: how often identical arms were called different, per headline metric."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class AAReport:
    """`n_sims` A/A runs at level `alpha`: each metric's p-values and false-positive rate."""

    n_sims: int
    alpha: float
    false_positive_rate: dict[str, float]
    p_values: dict[str, list[float]]
    replicates: int = 1  # > 1: the full-pipeline A/A (twins trained from other seeds, combined CI)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    def to_frame(self) -> pl.DataFrame:
        """One row per (metric, simulation) with its p-value and whether it fell below alpha."""
        return pl.DataFrame([{"metric": m, "sim": i, "p_value": p, "rejected": p < self.alpha}
                             for m, ps in self.p_values.items() for i, p in enumerate(ps)])

    def lines(self) -> list[str]:
        kind = (f"full-pipeline A/A runs ({self.replicates} replicates each, combined CI)" if self.replicates > 1
                else "A/A runs (click-noise CI)")
        return [f"{m}: false-positive rate {rate:.1%} at alpha {self.alpha} over {self.n_sims} {kind}"
                for m, rate in self.false_positive_rate.items()]
