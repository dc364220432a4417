"""The serving benchmark's report: throughput end to end and per stage, per catalogue size, with
each stage's arithmetic as a share of the matmul rate measured in the same run."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import polars as pl

STAGES = ("query_embedding", "retrieval", "relevance", "ranking", "auction", "clicks", "ground_truth", "logging")


@dataclass(frozen=True)
class BenchRun:
    """One day of traffic served at one catalogue size."""

    n_items: int
    n_requests: int
    seconds: float           # serving the day, from the first batch to the last rank's last
    index_seconds: float     # building the day's retrieval index and i2i table, before serving
    requests_per_s: float
    stage_seconds: dict[str, float]
    stage_flops: dict[str, float]
    stage_fraction_of_matmul: dict[str, float]
    ranks: int = 1  # torchrun processes serving together; stage figures are rank 0's share
    ann_recall: float = float("nan")  # share of the exact top query_quota the ANN index finds (day-1 queries)

    def line(self) -> str:
        st, frac = self.stage_seconds, self.stage_fraction_of_matmul
        per = self.n_requests / self.ranks  # stage times are one rank's, over its share of the requests
        parts = " ".join(f"{s}={st.get(s, 0) / per * 1e3:.3f}ms" for s in STAGES)
        head = (f"items={self.n_items:>6} requests={self.n_requests} ranks={self.ranks} index={self.index_seconds:.1f}s"
                f" ann_recall={self.ann_recall:.3f}")
        return (f"{head} req/s={self.requests_per_s:>7.0f} | per request: {parts}"
                f" | of matmul rate: ann={frac.get('retrieval', 0):.1%} relevance={frac.get('relevance', 0):.1%}"
                f" ranker={frac.get('ranking', 0):.1%}")


@dataclass
class BenchReport:
    """`adsim bench`: serving throughput end to end and per stage, for several catalogue sizes."""

    device: str
    matmul_flops_per_s: float
    batch_size: int
    runs: list[BenchRun]

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    def to_frame(self) -> pl.DataFrame:
        """One row per catalogue size: throughput and milliseconds per request of each stage."""
        return pl.DataFrame([{"n_items": r.n_items, "n_requests": r.n_requests, "requests_per_s": r.requests_per_s,
                              **{f"{s}_ms": r.stage_seconds.get(s, 0.0) / (r.n_requests / r.ranks) * 1e3 for s in STAGES}} for r in self.runs])

    def lines(self) -> list[str]:
        """The report as text: the device and its matmul rate, then a line per catalogue size (as
        `adsim bench` logs each while it runs)."""
        return [f"device {self.device}, matmul {self.matmul_flops_per_s / 1e9:.1f} GFLOP/s, batches of {self.batch_size}"] + [
            r.line() for r in self.runs]
