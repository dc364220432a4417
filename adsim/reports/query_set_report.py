"""A team's query set scored with its embeddings: recall@k per query modality with bootstrap
intervals over queries (`adsim encoder eval --queries`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import polars as pl


@dataclass
class QuerySetReport:
    """A team's query set scored with its embeddings: recall@k per query modality, intervals over
    queries."""

    query_set: str
    n_queries: int
    n_items: int
    relevant_not_in_catalogue: int  # relevant ids the item file lacks (they count as misses)
    metrics: dict[str, dict[str, dict[str, float]]]  # scope (all, text, image, multimodal) -> recall@k -> value, ci

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    def to_frame(self) -> pl.DataFrame:
        """One row per (scope, recall@k): value and its CI."""
        return pl.DataFrame([{"scope": scope, "metric": k, **v} for scope, m in self.metrics.items() for k, v in m.items()])

    def lines(self) -> list[str]:
        out = [f"{self.n_queries:,} queries against {self.n_items:,} items ({self.relevant_not_in_catalogue:,} relevant ids "
               "not in the item file count as misses); 95 % bootstrap CI over queries"]
        for scope, m in self.metrics.items():
            out.append(f"  {scope:<11}" + "  ".join(f"{k} {v['value']:.3f} [{v['ci_low']:.3f}, {v['ci_high']:.3f}]"
                                                   for k, v in m.items()))
        return out
