"""Markdown building blocks shared by every report: numbers, CIs, lift and slice tables."""

from __future__ import annotations

import numpy as np

from adsim.stats.estimates import Lift


def fmt(v: float | None, pct: bool = False) -> str:
    """A number for a table: 4 significant digits, or a signed percentage; "–" when missing."""
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    return f"{v * 100:+.2f}%" if pct else f"{v:.4g}"


def ci_text(lift: Lift) -> str:
    return f"[{fmt(lift.ci_low, True)}, {fmt(lift.ci_high, True)}]" if lift.ci_low is not None else "–"


def lift_cell(lift: Lift) -> str:
    """"+1.23% [+0.50%, +1.96%]": a relative lift and its CI in one table cell."""
    return f"{fmt(lift.relative, True)} {ci_text(lift)}"


def lift_table(lifts: dict[str, Lift], label: str = "metric", treat: str = "treatment") -> list[str]:
    lines = [f"| {label} | control | {treat} | lift | 95% CI | p |", "| --- | ---: | ---: | ---: | --- | ---: |"]
    for m, lift in lifts.items():
        lines.append(f"| {m} | {fmt(lift.control)} | {fmt(lift.treatment)} | {fmt(lift.relative, True)} | {ci_text(lift)} "
                     f"| {fmt(lift.p_value)} |")
    return lines


def slice_table(slices: dict[str, dict[str, Lift]], metrics: tuple[str, ...] = ("ctr", "expected_ctr", "rpm")) -> list[str]:
    """One row per slice: the relative lift and CI of each metric (those every slice has)."""
    metrics = tuple(m for m in metrics if all(m in lifts for lifts in slices.values()))
    lines = ["| slice | " + " | ".join(f"{m} lift | {m} 95% CI" for m in metrics) + " |",
             "| --- |" + " ---: | --- |" * len(metrics)]
    for name, lifts in slices.items():
        lines.append(f"| {name} | " + " | ".join(f"{fmt(lifts[m].relative, True)} | {ci_text(lifts[m])}" for m in metrics) + " |")
    return lines
