"""Variants against a named baseline variant (`sweep.baseline`): each one's downstream lift over
the baseline, paired on the same users, and where its lift over the control falls against the
exchange-rate line fitted without it (a prediction interval it should land in if the
intermediate metric tells the whole story)."""

from __future__ import annotations

from dataclasses import dataclass

from adsim.reports.render.markdown import lift_cell
from adsim.stats.estimates import Lift


@dataclass(frozen=True)
class LinePlacement:
    """One variant's primary-metric lift over the control against the line of one intermediate
    metric fitted to the other variants (leave this one out)."""

    intermediate: str
    change: float      # the variant's change of the intermediate metric over the control
    observed: float    # its lift over the control, %
    predicted: float   # the line's lift at that change, %
    pi_low: float      # 95 % prediction interval of a new variant there
    pi_high: float

    @property
    def inside(self) -> bool:
        return self.pi_low <= self.observed <= self.pi_high


@dataclass(frozen=True)
class BaselineComparison:
    """A variant against the baseline: downstream lifts over it, and its place against the line."""

    lift: dict[str, Lift]          # downstream metric -> lift over the baseline (paired users)
    line: LinePlacement | None


def baseline_markdown(baseline: str, primary: str, rows: dict[str, BaselineComparison]) -> list[str]:
    """The report section: one row per variant other than the baseline."""
    if not rows:
        return []
    downs = list(next(iter(rows.values())).lift)
    lines = ["", f"## Against the baseline `{baseline}`", "",
             f"Lift over `{baseline}` on the same users (95 % paired bootstrap CI), and where each variant's {primary} "
             "lift over the control falls against the best intermediate metric's line fitted without it.", "",
             "| variant | " + " | ".join(f"{d} vs {baseline}" for d in downs)
             + f" | line's metric | change | {primary} observed | line predicts [95 % PI] | inside |",
             "| --- |" + " --- |" * len(downs) + " --- | ---: | ---: | --- | --- |"]
    for name, r in rows.items():
        cells = [lift_cell(x) for x in r.lift.values()]
        p = r.line
        place = (f"{p.intermediate} | {p.change:+.4f} | {p.observed:+.2f} % | {p.predicted:+.2f} [{p.pi_low:+.2f}, {p.pi_high:+.2f}] % | "
                 f"{'yes' if p.inside else 'no'}") if p else "– | – | – | – | –"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {place} |")
    return lines
