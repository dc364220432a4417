"""The scaling report: each metric measured along one axis, with its power-law fit."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import polars as pl


@dataclass(frozen=True)
class PowerLaw:
    """metric ≈ a·x^b + c; `ok` False when the fit did not converge."""

    a: float
    b: float
    c: float
    r2: float
    ok: bool

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.a * np.power(x, self.b) + self.c

    def text(self, metric: str) -> str:
        return (f"{metric} = {self.a:.3g}·x^{self.b:.3g} + {self.c:.3g}  (R² {self.r2:.2f})" if self.ok
                else f"{metric}: power law did not converge")


@dataclass(frozen=True)
class ScalingPoint:
    """One arm of the study: its x coordinate and its metrics."""

    x: float
    metrics: dict[str, float]


@dataclass
class ScalingReport:
    """`adsim scaling`: downstream lifts along one axis (training tokens, negatives, sequence length)
    with power-law fits."""

    name: str
    seed: int
    config_hash: str
    axis: str
    x_label: str
    points: dict[str, ScalingPoint]  # arm -> point
    fits: dict[str, PowerLaw]        # metric -> fit
    plots: list[str]
    control: dict[str, float]        # the control's downstream metrics

    def to_json(self) -> dict:
        out = dataclasses.asdict(self)
        out["fits"] = {m: dataclasses.asdict(f) for m, f in self.fits.items()}
        return out

    def to_frame(self) -> pl.DataFrame:
        """One row per arm: x and every metric."""
        return pl.DataFrame([{"arm": n, "x": p.x, **p.metrics} for n, p in self.points.items()])


def scaling_markdown(report: ScalingReport) -> str:
    names = list(report.points)
    metrics = list(report.fits)
    lines = [f"# Scaling study: {report.axis} ({report.name})", "",
             f"seed {report.seed}, config {report.config_hash}. x = {report.x_label}. Each value is an arm served against "
             f"the control on the same traffic; fits are metric = a·x^b + c by least squares.", "",
             "| arm | x | " + " | ".join(metrics) + " |", "| --- | ---: |" + " ---: |" * len(metrics)]
    for n in names:
        p = report.points[n]
        lines.append(f"| {n} | {p.x:.4g} | " + " | ".join(f"{p.metrics[m]:.4g}" for m in metrics) + " |")
    lines += ["", "| metric | a | b | c | R² |", "| --- | ---: | ---: | ---: | ---: |"]
    for m, f in report.fits.items():
        lines.append(f"| {m} | {f.a:.4g} | {f.b:.3g} | {f.c:.4g} | {f.r2:.3f} |" if f.ok else f"| {m} | – | – | – | did not converge |")
    lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in report.plots] + [""]
    return "\n".join(lines)
