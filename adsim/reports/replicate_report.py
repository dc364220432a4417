"""Replicated lifts in reports: the replicated A/B report (per arm and metric, a single run's
click-noise CI, the spread between replicates, and the combined CI that carries both), and the
exchange-rate report's section on MOON components over replicate sweeps (each trained variant's
lifts over the baseline and over its compute-matched controls, combined the same way)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import polars as pl

from adsim.reports.render.markdown import fmt
from adsim.stats.estimates import Combined, Lift


@dataclass(frozen=True)
class ReplicatedLift:
    base: Lift                    # replicate 0: what a single run reports (traffic and click noise only)
    replicate_lifts: list[float]  # every replicate's relative lift
    combined: Combined


@dataclass(frozen=True)
class ReplicatedABReport:
    """`adsim ab --replicates R`: per arm and metric, a single run's CI, the replicates' spread and the
    combined CI."""

    name: str
    seed: int
    config_hash: str
    n_replicates: int
    lifts: dict[str, dict[str, ReplicatedLift]]  # arm -> metric

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    def to_frame(self) -> pl.DataFrame:
        return pl.DataFrame([{"arm": a, "metric": m, "base_relative": x.base.relative, "base_ci_low": x.base.ci_low,
                              "base_ci_high": x.base.ci_high, **{k: v for k, v in dataclasses.asdict(x.combined).items()}}
                             for a, by_m in self.lifts.items() for m, x in by_m.items()])


def replicated_markdown(report: ReplicatedABReport) -> str:
    lines = [f"# A/B with replicates: {report.name}", "",
             f"seed {report.seed}, config {report.config_hash}; {report.n_replicates} replicates on the same world, each "
             "re-drawing the served traffic, day-0 exploration, the label sample, training seeds, latent-noise draws and "
             "clicks. A single run's CI covers traffic and click noise for its trained systems; the combined CI is the "
             "Student-t interval of the replicates' mean lift, which carries every source they re-draw (wide when "
             "replicates are few: t(2) = 4.30 for 3).", ""]
    for arm, by_m in report.lifts.items():
        lines += [f"## {arm} vs control", "",
                  "| metric | single run [95% CI] | replicates' mean | between-replicate sd | combined 95% CI | p | "
                  "MDE one run | MDE of the mean |", "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: |"]
        for m, x in by_m.items():
            c = x.combined
            lines.append(f"| {m} | {fmt(x.base.relative, True)} [{fmt(x.base.ci_low, True)}, {fmt(x.base.ci_high, True)}] | "
                         f"{fmt(c.mean, True)} | {c.between_sd:.2%} | [{fmt(c.ci_low, True)}, {fmt(c.ci_high, True)}] | "
                         f"{c.p_value:.3g} | {fmt(c.mde_single_run, True)} | {fmt(c.mde_mean, True)} |")
        lines.append("")
    lines += ["Not covered: the world itself (catalogue, users, past behaviour) and encoders trained here (MOON weights are "
              "trained once per seed).", ""]
    return "\n".join(lines)


# The exchange-rate report's section on MOON components over replicate sweeps: each trained variant's
# downstream lifts over the baseline and over its compute-matched controls (adsim.studies.component_lifts).
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
