"""The exchange-rate report's section on MOON components over replicate sweeps: each trained
variant's downstream lifts over the baseline and over its compute-matched control, the replicates'
mean with the Student-t interval of their spread (adsim.studies.component_lifts)."""

from __future__ import annotations

import dataclasses

from adsim.reports.render.markdown import fmt
from adsim.reports.replicate_report import ReplicatedLift

Components = dict[str, dict[str, dict[str, ReplicatedLift]]]  # variant -> against -> downstream metric -> lift


def components_to_json(components: Components) -> dict:
    return {v: {a: {m: {"replicate_lifts": x.replicate_lifts, **dataclasses.asdict(x.combined)} for m, x in by_m.items()}
                for a, by_m in by_a.items()} for v, by_a in components.items()}


def components_markdown(components: Components, retrained: bool) -> list[str]:
    """One row per (variant, what it is measured against): each downstream metric's mean relative
    lift over the replicates, its 95 % CI (t over the replicates) and the replicates' own lifts."""
    if not components:
        return []
    lifts = [(m, x) for by_a in components.values() for by_m in by_a.values() for m, x in by_m.items()]
    if not lifts:
        return []
    metrics, n = list(dict.fromkeys(m for m, _ in lifts)), len(lifts[0][1].replicate_lifts)
    lines = ["", f"## MOON components over {n} replicate sweeps", "",
             "Relative lift of each trained variant over the baseline and over its compute-matched control, on the same "
             "users of each replicate; mean of the replicates with the Student-t 95 % CI of their spread (t(2) = 4.30 for 3); "
             + ("every replicate trained its own encoders (`--retrain`), so the interval carries the training seed as well as "
                "the traffic" if retrained else "the replicates share one training of each encoder, so the interval carries the "
                "traffic, not the training seed (`--retrain` adds it)") + "; **bold**: the CI clears zero.", "",
             "| variant | against | " + " | ".join(metrics) + " |", "| --- | --- |" + " --- |" * len(metrics)]
    for variant, by_against in components.items():
        for against, by_m in by_against.items():
            cells = []
            for m in metrics:
                x = by_m.get(m)
                if x is None:
                    cells.append("–")
                    continue
                c = x.combined
                mean = fmt(c.mean, True)
                mean = f"**{mean}**" if c.ci_low > 0 or c.ci_high < 0 else mean
                cells.append(f"{mean} [{fmt(c.ci_low, True)}, {fmt(c.ci_high, True)}] ("
                             + ", ".join(fmt(v, True) for v in x.replicate_lifts) + ")")
            lines.append(f"| {variant} | {against} | " + " | ".join(cells) + " |")
    return lines
