"""`adsim bench --scale`'s report: world building, serving and memory at each size of each axis,
and the growth exponent of each cost (1 = linear), with its 95 % interval."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import polars as pl

GIB = 1 << 30


@dataclass(frozen=True)
class ScalePoint:
    """One world size, built and served in a fresh process."""

    axis: str                # items | users | requests
    size: int
    world_seconds: float
    serve_seconds: float     # day 1, every stage
    requests_per_s: float
    stage_seconds: dict[str, float]
    peak_rss_bytes: int
    rss_growth_bytes: int    # peak RSS above the process's own after imports

    def line(self) -> str:
        return (f"{self.axis}={self.size:>9,d}: world {self.world_seconds:6.1f}s, serve {self.serve_seconds:6.1f}s "
                f"({self.requests_per_s:,.0f} req/s), peak RSS {self.peak_rss_bytes / GIB:.2f} GiB")


@dataclass(frozen=True)
class GrowthFit:
    exponent: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class ScaleBenchReport:
    """`adsim bench --scale`: world building, serving and peak memory as items, users and requests
    grow, with fitted exponents."""

    config_name: str
    factors: list[float]
    points: list[ScalePoint]
    fits: dict[str, dict[str, GrowthFit]]  # axis -> cost -> fit

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    def to_frame(self) -> pl.DataFrame:
        """One row per point."""
        return pl.DataFrame([{k: v for k, v in dataclasses.asdict(p).items() if k != "stage_seconds"} for p in self.points])

    def markdown(self) -> str:
        lines = [f"# Cost growth: `{self.config_name}` at x{', x'.join(f'{f:g}' for f in self.factors)} of each size", "",
                 "| axis | size | world s | serve s | req/s | peak RSS GiB |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
        lines += [f"| {p.axis} | {p.size:,} | {p.world_seconds:.1f} | {p.serve_seconds:.1f} | {p.requests_per_s:,.0f} | "
                  f"{p.peak_rss_bytes / GIB:.2f} |" for p in self.points]
        lines += ["", "Growth exponent of each cost in each size (slope of log cost on log size, 95 % t-interval; "
                  "1 is linear). RSS is the growth above the process's own after imports.", "",
                  "| axis | world build | serving | RSS |", "| --- | --- | --- | --- |"]
        for axis, fits in self.fits.items():
            cells = [f"{f.exponent:.2f} [{f.ci_low:.2f}, {f.ci_high:.2f}]" for f in fits.values()]
            lines.append(f"| {axis} | " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"
