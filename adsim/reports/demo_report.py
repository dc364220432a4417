"""The demo's summary: the A/B of the floor against MOON, and the exchange rate of its sweep."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import polars as pl

from adsim.core.vocab import DOWNSTREAM, HEADLINE_INTERMEDIATES
from adsim.reports.ab_report import ABReport
from adsim.reports.exchange_report import ExchangeReport, gap_text, rate_text
from adsim.stats.estimates import LiftPrediction

SUMMARY_METRICS = DOWNSTREAM + ("retrieval_recall",)


@dataclass
class DemoReport:
    """`adsim demo`: the A/B of the incumbent against the post-trained encoder, the sweep's exchange
    rates, a worked prediction."""

    ab: ABReport
    exchange_rate: ExchangeReport
    timings: dict[str, float]
    prediction: LiftPrediction | None = None  # a new model's lift from +3 points of the best predictor
    folder: str = "."                         # where the demo wrote its reports (for the commands it prints)

    def to_json(self) -> dict:
        return {"ab": self.ab.to_json(), "exchange_rate": self.exchange_rate.to_json(), "timings": self.timings,
                "prediction": dataclasses.asdict(self.prediction) if self.prediction else None}

    def to_frame(self) -> pl.DataFrame:
        """One row per (arm, scope, metric) of the demo's A/B; the sweep's rates have their own frame
        (`exchange_rate.to_frame()`), the timings and the prediction are in to_json()."""
        return self.ab.to_frame()

    @property
    def summary(self) -> str:
        return demo_markdown(self)


def _pct(v: float) -> str:
    return f"{v * 100:+.1f}%"


def _ab_lines(ab: ABReport) -> list[str]:
    lines = ["# adsim demo", "", "Offline A/B on the demo world: the incumbent (control: the MOON-style encoder a third "
             "of the way through post-training, the iteration a team would have shipped before) vs the same encoder "
             "fully post-trained (treatment); lifts with 95 % paired-bootstrap CIs. expected_* rows are lifts in expected "
             "outcomes (the true P(click) of every shown ad): no click noise; ctr, rpm and clicks_per_request are the "
             "sampled clicks an online A/B of this size would see.", "",
             "| metric | control | treatment | lift | 95% CI |", "| --- | ---: | ---: | ---: | --- |"]
    for m in SUMMARY_METRICS:
        x = ab.lift[m]
        lines.append(f"| {m} | {x.control:.4g} | {x.treatment:.4g} | {_pct(x.relative)} | [{_pct(x.ci_low)}, {_pct(x.ci_high)}] |")
    inter = {a: ab.arms[a].intermediate_metrics for a in ("control", "treatment")}
    for m in HEADLINE_INTERMEDIATES:
        lines.append(f"| {m} (intermediate) | {inter['control'][m]:.3f} | {inter['treatment'][m]:.3f} | – | – |")
    power = ab.lifts["treatment"].power
    return lines + ["", "Minimum detectable effect at this traffic (α 0.05, power 0.8): "
                    + ", ".join(f"{m} {v.mde_relative * 100:.1f}%" for m, v in power.items()) + ".", ""]


def demo_markdown(report: DemoReport) -> str:
    ex = report.exchange_rate
    lines = _ab_lines(report.ab)
    best = ex.best
    if best:
        lines += ["## Exchange rate", "", f"Across {len(ex.variants)} embedding variants against the same control, the "
                  f"intermediate metric that best predicts **{ex.primary}** is **{best.intermediate}**: "
                  + rate_text(best.intermediate, ex.primary, best) + "." + gap_text(best), ""]
        if ex.primary in ex.weak_fits:
            lines += [f"The fit is too weak to rank intermediate metrics: {ex.weak_fits[ex.primary]}.", ""]
        p = report.prediction
        if p:
            lines += [f"A new model that adds {p.change:+g} points of {p.intermediate} over the control should expect "
                      f"{p.downstream} {p.lift:+.1f} % (95 % prediction interval [{p.pi_low:+.1f}, {p.pi_high:+.1f}] %; "
                      f"`adsim exchange-rate predict --from {report.folder}/exchange --set {p.intermediate}={p.change:+g}`).", ""]
        lines += [f"![{p}](exchange/{p})" for p in ex.plots[:2]] + [""]
    lines += ["Full reports: [A/B](ab/report.html) (ab/report.md), [exchange rates](exchange/report.html) (exchange/report.md).", "",
              "Time (over every run that made these results): " + ", ".join(f"{k} {v:.0f}s" for k, v in report.timings.items())
              + ".", ""]
    return "\n".join(lines)
