"""The exchange-rate report: how much downstream lift one unit of each intermediate metric buys,
fitted across embedding variants, which intermediate metric predicts best, and every variant's
lifts. `to_json()` is report.json (keys: docs/guide/experiments.md), `exchange_markdown` report.md."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import polars as pl

from adsim.core.vocab import HEADLINE_INTERMEDIATES, in_points, probe_metric
from adsim.reports.baseline_report import BaselineComparison, baseline_markdown
from adsim.reports.replicate_report import Components, components_markdown, components_to_json
from adsim.reports.render.markdown import fmt, lift_cell
from adsim.reports.proxy_report import proxy_markdown
from adsim.stats.estimates import CompositeProxy, ExchangeRate, Lift, VariantsNeeded, unit

SHOWN_INTERMEDIATES = HEADLINE_INTERMEDIATES + (probe_metric("leaf"),)


@dataclass(frozen=True)
class RankedIntermediate:
    """One intermediate metric's fit to a downstream metric, as the ranking lists it."""

    intermediate: str
    loo_rmse: float
    loo_coverage: float
    r2: float
    spearman: float
    slope: float
    ci_low: float
    ci_high: float
    reliability: float
    gap_to_next: float      # the next metric's leave-one-out RMSE minus this one's (% points)
    gap_ci_low: float       # its 95 % CI, variants resampled: above 0, this metric is the better predictor
    gap_ci_high: float

    @classmethod
    def of(cls, intermediate: str, rate: ExchangeRate, gap: tuple[float, float, float]) -> "RankedIntermediate":
        return cls(intermediate=intermediate, loo_rmse=rate.loo_rmse, loo_coverage=rate.loo_coverage, r2=rate.r2,
                   spearman=rate.spearman, slope=rate.slope, ci_low=rate.ci_low, ci_high=rate.ci_high,
                   reliability=rate.reliability, gap_to_next=gap[0], gap_ci_low=gap[1], gap_ci_high=gap[2])


@dataclass(frozen=True)
class ControlSummary:
    encoder: str
    encoder_args: dict
    intermediate: dict[str, float]
    metrics: dict[str, float]  # downstream metric values


@dataclass(frozen=True)
class VariantSummary:
    encoder: str
    encoder_args: dict
    intermediate: dict[str, float]
    lift: dict[str, Lift]    # downstream metric -> lift over the control
    slices: dict[str, Lift]  # slice -> CTR lift


@dataclass
class ExchangeReport:
    """`adsim exchange-rate`: every (intermediate, downstream) rate across the variants, the ranking of
    intermediate metrics, the composite proxy and each variant's lifts."""

    name: str
    seed: int
    config_hash: str
    n_bootstrap: int
    control: ControlSummary
    variants: dict[str, VariantSummary]
    primary: str
    exchange_rates: dict[str, dict[str, ExchangeRate]]   # intermediate -> downstream -> rate
    ranking: dict[str, list[RankedIntermediate]]         # downstream -> best predictor first
    plots: list[str]
    weak_fits: dict[str, str] = field(default_factory=dict)  # downstream -> why its best fit is too weak to rank metrics
    composite: CompositeProxy | None = None              # a weighted combination of metrics, for the primary outcome
    variants_needed: list[VariantsNeeded] = field(default_factory=list)  # the best predictor's CI against the sweep's size
    baseline: str | None = None                          # sweep.baseline: the variant the others are also compared with
    against_baseline: dict[str, BaselineComparison] = field(default_factory=dict)
    components: Components = field(default_factory=dict)  # over replicate sweeps: trained variants against baseline and control
    components_retrained: bool = False  # each replicate trained its own encoders (the components' CIs carry the training seed)

    @property
    def best(self) -> RankedIntermediate | None:
        """The best predictor of the primary downstream metric."""
        return self.ranking[self.primary][0] if self.ranking[self.primary] else None

    def to_json(self) -> dict:
        variants = {n: {"encoder": v.encoder, "encoder_args": v.encoder_args, "intermediate": v.intermediate,
                        "lift": {d: x.to_json() for d, x in v.lift.items()},
                        "slices": {s: x.to_json() for s, x in v.slices.items()}} for n, v in self.variants.items()}
        return {"name": self.name, "seed": self.seed, "config_hash": self.config_hash, "n_bootstrap": self.n_bootstrap,
                "control": dataclasses.asdict(self.control), "variants": variants, "primary": self.primary,
                "best": dataclasses.asdict(self.best) if self.best else None,
                "exchange_rates": {i: {d: r.as_dict() for d, r in by_d.items()} for i, by_d in self.exchange_rates.items()},
                "ranking": {d: [dataclasses.asdict(r) for r in rows] for d, rows in self.ranking.items()}, "plots": self.plots,
                "weak_fits": self.weak_fits, "baseline": self.baseline,
                "composite": dataclasses.asdict(self.composite) if self.composite else None,
                "variants_needed": [dataclasses.asdict(v) for v in self.variants_needed],
                "against_baseline": {n: {"lift": {d: x.to_json() for d, x in c.lift.items()},
                                         "line": dataclasses.asdict(c.line) if c.line else None}
                                     for n, c in self.against_baseline.items()},
                "components": components_to_json(self.components), "components_retrained": self.components_retrained}

    def to_frame(self) -> pl.DataFrame:
        """One row per (intermediate, downstream) exchange rate."""
        return pl.DataFrame([{"intermediate": i, "downstream": d, **{k: v for k, v in r.as_dict().items() if k not in ("loo_errors", "family_coverage")}}
                             for i, by_d in self.exchange_rates.items() for d, r in by_d.items()])



def rate_text(i: str, d: str, r: RankedIntermediate) -> str:
    return (f"{r.slope:+.3g} log-% {d} per +1 {unit(i)} of {i} (95 % CI [{r.ci_low:+.3g}, {r.ci_high:+.3g}]; "
            f"R² {r.r2:.2f}, Spearman ρ {r.spearman:.2f}, leave-one-out error {r.loo_rmse:.2g} % points, "
            f"{r.loo_coverage:.0%} of held-out variants inside their 95 % prediction interval)")


def gap_text(r: RankedIntermediate) -> str:
    """Whether the best metric is distinguishable from the runner-up, by their leave-one-out errors."""
    if not (r.gap_ci_low == r.gap_ci_low):  # NaN: no runner-up
        return ""
    verdict = ("it predicts better than the runner-up" if r.gap_ci_low > 0 else
               "the runner-up predicts about as well (the gap's CI includes 0): treat the choice as a tie")
    return (f" Its leave-one-out error is {r.gap_to_next:+.2g} % points below the runner-up's "
            f"(95 % CI over variants [{r.gap_ci_low:+.2g}, {r.gap_ci_high:+.2g}]): {verdict}.")


def _finding(report: ExchangeReport) -> list[str]:
    best, primary = report.best, report.primary
    if not best:
        return []
    lines = ["## Finding", "", f"The intermediate metric that best predicts **{primary}** is **{best.intermediate}**: "
             + rate_text(best.intermediate, primary, best) + "." + gap_text(best), ""]
    families = report.exchange_rates[best.intermediate][primary].family_coverage
    if families:
        lines += ["Each family of variants held out in turn, its members predicted by the line the other families give "
                  "(share inside their 95 % prediction interval): "
                  + ", ".join(f"{f} {c:.0%}" for f, c in families.items()) + ".", ""]
    if primary in report.weak_fits:
        lines += [f"**The fit is too weak to rank intermediate metrics**: {report.weak_fits[primary]}. Read the ranking as a hint.", ""]
    for d, rows in report.ranking.items():
        if d != primary and rows:
            weak = f" **Weak fit: {report.weak_fits[d]}.**" if d in report.weak_fits else ""
            lines.append(f"- {d}: best predictor {rows[0].intermediate}, " + rate_text(rows[0].intermediate, d, rows[0]) + weak)
    return lines + [""]


def _ranking(report: ExchangeReport) -> list[str]:
    lines = [f"## Ranking of intermediate metrics for {report.primary}", "",
             "Reliability: the share of the metric's spread across variants that is signal, not intermediate-metric noise. "
             "Gap: the next metric's leave-one-out error minus this one's, with its 95 % CI over variants.", "",
             "| rank | intermediate | slope (log-%) | 95% CI | R² | Spearman ρ | reliability | LOO error (% pts) | LOO in 95% PI | gap to next [95% CI] |",
             "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for k, r in enumerate(report.ranking[report.primary], 1):
        gap = f"{r.gap_to_next:+.2g} [{r.gap_ci_low:+.2g}, {r.gap_ci_high:+.2g}]" if r.gap_to_next == r.gap_to_next else "–"
        lines.append(f"| {k} | {r.intermediate} | {r.slope:+.3g} | [{r.ci_low:+.3g}, {r.ci_high:+.3g}] | "
                     f"{r.r2:.2f} | {r.spearman:.2f} | {r.reliability:.2f} | {r.loo_rmse:.3g} | {r.loo_coverage:.0%} | {gap} |")
    return lines + ["", "## Plots", ""] + [f"![{p}]({p})" for p in report.plots] + [""]


def _variants(report: ExchangeReport) -> list[str]:
    ctrl = report.control
    best = [report.best.intermediate] if report.best else []
    shown = list(dict.fromkeys(best + [i for i in SHOWN_INTERMEDIATES if i in report.exchange_rates]))
    downs = list(next(iter(report.variants.values())).lift) if report.variants else []
    lines = ["## Variants", "", "| variant | encoder | " + " | ".join(shown) + " | " + " | ".join(f"{d} lift [95% CI]" for d in downs) + " |",
             "| --- | --- |" + " ---: |" * len(shown) + " --- |" * len(downs)]
    lines.append("| control | " + f"`{ctrl.encoder}` {ctrl.encoder_args} | " + " | ".join(fmt(ctrl.intermediate.get(i)) for i in shown)
                 + " | " + " | ".join(fmt(ctrl.metrics[d]) for d in downs) + " |")
    for name, v in report.variants.items():
        cells = [lift_cell(x) for x in v.lift.values()]
        lines.append(f"| {name} | `{v.encoder}` {v.encoder_args} | " + " | ".join(fmt(v.intermediate.get(i)) for i in shown)
                     + " | " + " | ".join(cells) + " |")
    lines += ["", "## All exchange rates (slope [95% CI], R²)", "", "| intermediate | " + " | ".join(downs) + " |",
              "| --- |" + " --- |" * len(downs)]
    for i, by_d in report.exchange_rates.items():
        lines.append(f"| {i} | " + " | ".join(f"{r.slope:+.3g} [{r.ci_low:+.3g}, {r.ci_high:+.3g}], {r.r2:.2f}"
                                              for r in by_d.values()) + " |")
    return lines


def _moves(report: ExchangeReport) -> list[str]:
    """The change of each intermediate metric over the control, per variant: what each variant moves."""
    names = [i for i in report.exchange_rates if i.endswith("@10") or i.startswith(("probe_", "personal"))]
    if not report.variants or not names:
        return []
    ctrl = report.control.intermediate
    lines = ["", "## What each variant moves", "", "Change of each intermediate metric over the control "
             "(points for rates). A downstream lift that none of these explains is a signal no intermediate metric sees.",
             "", "| variant | " + " | ".join(names) + " |", "| --- |" + " ---: |" * len(names)]
    for name, v in report.variants.items():
        lines.append(f"| {name} | " + " | ".join(f"{(v.intermediate[i] - ctrl[i]) * (100 if in_points(i) else 1):+.1f}"
                                                   for i in names) + " |")
    return lines


def _slices(report: ExchangeReport) -> list[str]:
    if not report.variants:
        return []
    slices = list(next(iter(report.variants.values())).slices)
    lines = ["", "## Expected-CTR lift by slice", "", "Query modality, query category and item age (impressions of items listed "
             "in the last 7 days vs established ones).", "", "| variant | " + " | ".join(slices) + " |", "| --- |" + " ---: |" * len(slices)]
    return lines + [f"| {name} | " + " | ".join(fmt(v.slices[s].relative, True) for s in slices) + " |"
                    for name, v in report.variants.items()]


HOW_TO_READ = ["", "## How to read this", "",
               "- A slope is a rate of exchange between an offline metric and an online one, measured across these variants; "
               "it holds near the control and for variants like these, not for arbitrary changes.",
               "- The leave-one-variant-out error says how well a metric predicts a variant it has not seen: the ranking's "
               "first metric is the one to optimise for this downstream goal.",
               "- expected_* metrics are lifts in expected outcomes (Σ true P(click) of the shown ads, Σ P(click) × price): "
               "no click noise, read from the simulator's truth by the evaluation only. ctr, rpm and clicks_per_request "
               "are the sampled clicks: what an online A/B of this size would see.",
               "- The line passes through the control (no change, no lift) on the log-ratio scale (log-% = 100 ln(treatment "
               "/ control); close to the % lift for lifts of a few %, and a prediction never falls below -100 %). Each "
               "variant is weighted by the inverse of its scatter about the line (growing with how far it moves the metric) "
               "plus its measurement noise. The slope's CI counts each source once: the variants' own scatter (net of "
               "noise), traffic (users resampled; shared by the variants through the control) and the intermediate "
               "metric (held-out queries resampled), with Student's t on Satterthwaite's degrees of freedom. The default "
               "estimator (tc) corrects the slope for the attenuation the intermediate metric's noise causes.",
               "- Not covered: the randomness the arms do not control (day-0 logs, label sample, training seeds, latent-noise "
               "draws) unless the sweep ran with replicates, and any variant unlike those swept.",
               "- Predict a new model's lift with `adsim exchange-rate predict --from <this folder> --set <metric>=<change>`.", ""]


def exchange_markdown(report: ExchangeReport) -> str:
    ctrl = report.control
    lines = [f"# Exchange-rate report: {report.name}", "",
             f"seed {report.seed}, config {report.config_hash}; {len(report.variants)} embedding variants, each served "
             f"as an arm against the same control (`{ctrl.encoder}` {ctrl.encoder_args}) on the same traffic with common "
             f"random numbers. Slopes are log-% lift (100 ln(treatment / control)) per +1 point (rates) or unit (alignment, uniformity) of an "
             f"intermediate metric, fitted through the control; CIs from the variants' scatter plus {report.n_bootstrap} "
             f"paired user-bootstrap and held-out-query resamples, each counted once (How to read this).", ""]
    against = baseline_markdown(report.baseline, report.primary, report.against_baseline) if report.baseline else []
    proxy = proxy_markdown(report.primary, report.best.intermediate if report.best else "", report.composite,
                           report.variants_needed)
    return "\n".join(lines + _finding(report) + _ranking(report) + proxy + _variants(report) + against
                     + components_markdown(report.components, report.components_retrained) + _moves(report)
                     + _slices(report) + HOW_TO_READ)
