"""The A/B report: per-arm summaries and, per treatment arm, lifts with CIs overall, per slice
and per day, the power of the test and the variance common random numbers removed.

`ABReport.to_json()` is report.json (its keys: docs/guide/experiments.md); `to_frame()` is one
row per (arm, scope, metric) lift for notebooks; `ab_markdown` is report.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import polars as pl

from adsim.core.vocab import HEADLINE_DOWNSTREAM, is_headline_intermediate
from adsim.stats.estimates import Lift
from adsim.reports.render.markdown import fmt, lift_table, slice_table


@dataclass(frozen=True)
class Power:
    """Bootstrap SE of the relative lift and the minimum detectable relative effect (α 0.05, power 0.8)."""

    se_relative: float
    mde_relative: float


@dataclass(frozen=True)
class CrnWidths:
    """CI width of the relative lift with paired arms vs arms resampled independently."""

    paired_ci_width: float
    unpaired_ci_width: float
    variance_reduction: float


@dataclass(frozen=True)
class ArmLifts:
    """One treatment arm against the control."""

    lift: dict[str, Lift]                  # ratio metrics (with CIs), then model metrics (point values)
    slices: dict[str, dict[str, Lift]]     # slice -> metric -> lift
    days: dict[str, dict[str, Lift]]       # "day=<d>" -> metric -> lift (multi-day runs)
    power: dict[str, Power]
    crn: dict[str, CrnWidths]


@dataclass(frozen=True)
class ArmSummary:
    """One arm's provider and its metric values."""

    encoder: str
    encoder_args: dict
    click_stream: int
    metrics: dict[str, float]               # ratio metrics, then model metrics
    model_metrics: dict[str, float]
    intermediate_metrics: dict[str, float]


def _lifts_json(lifts: dict[str, Lift]) -> dict:
    return {m: v.to_json() for m, v in lifts.items()}


def _nested_json(groups: dict[str, dict[str, Lift]]) -> dict:
    return {g: _lifts_json(v) for g, v in groups.items()}


@dataclass
class ABReport:
    """Every arm of an A/B run against its control, on the same traffic."""

    name: str
    seed: int
    config_hash: str
    n_requests_served: int
    n_serving_days: int
    n_users: int
    n_bootstrap: int
    arms: dict[str, ArmSummary]
    lifts: dict[str, ArmLifts]  # per non-control arm
    lift_arm: str | None        # the headline arm: "treatment" if there is one
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def lift(self) -> dict[str, Lift]:
        """The headline arm's lifts."""
        return self.lifts[self.lift_arm].lift if self.lift_arm else {}

    def to_json(self) -> dict:
        out = {k: getattr(self, k) for k in ("name", "seed", "config_hash", "n_requests_served", "n_serving_days",
                                             "n_users", "n_bootstrap", "lift_arm", "timings")}
        out["arms"] = {a: dataclasses.asdict(s) for a, s in self.arms.items()}
        out["lift"] = _lifts_json(self.lift)
        out["lifts"] = {a: _lifts_json(v.lift) for a, v in self.lifts.items()}
        out["slices"] = {a: _nested_json(v.slices) for a, v in self.lifts.items()}
        out["days"] = {a: _nested_json(v.days) for a, v in self.lifts.items()}
        out["power"] = {a: {m: dataclasses.asdict(p) for m, p in v.power.items()} for a, v in self.lifts.items()}
        out["crn"] = {a: {m: dataclasses.asdict(c) for m, c in v.crn.items()} for a, v in self.lifts.items()}
        return out

    def to_frame(self) -> pl.DataFrame:
        """One row per (arm, scope, metric): scope is "all", a slice ("modality=image") or a day ("day=2")."""
        rows = []
        for arm, v in self.lifts.items():
            scoped = {"all": v.lift} | v.slices | v.days
            rows += [{"arm": arm, "scope": scope, "metric": m, **lift.to_json()}
                     for scope, lifts in scoped.items() for m, lift in lifts.items()]
        return pl.DataFrame(rows, schema_overrides={k: pl.Float64 for k in Lift.__dataclass_fields__})


def _power_table(v: ArmLifts) -> list[str]:
    lines = ["Power and common random numbers: minimum detectable relative effect (two-sided α = 0.05, power 0.8) "
             "at this traffic, and the CI width with paired arms (shared users, requests and click draws) vs "
             "resampling the arms independently.", "",
             "| metric | MDE | CI width paired | CI width unpaired | variance removed |", "| --- | ---: | ---: | ---: | ---: |"]
    for m, p in v.power.items():
        c = v.crn[m]
        lines.append(f"| {m} | {fmt(p.mde_relative, True).lstrip('+')} | {fmt(c.paired_ci_width, True).lstrip('+')} | "
                     f"{fmt(c.unpaired_ci_width, True).lstrip('+')} | {c.variance_reduction * 100:.0f}% |")
    return lines


def _arm_section(report: ABReport, arm: str) -> list[str]:
    ctrl, spec, v = report.arms["control"], report.arms[arm], report.lifts[arm]
    lines = [f"## {arm} vs control", "",
             f"control: `{ctrl.encoder}` {ctrl.encoder_args}; {arm}: `{spec.encoder}` {spec.encoder_args}"
             + (f", click stream {spec.click_stream}" if spec.click_stream else ""), ""]
    lines += lift_table(v.lift, treat=arm) + [""] + _power_table(v)
    lines += ["", f"### Slices ({arm})", ""] + slice_table(v.slices) + [""]
    if v.days:
        lines += [f"### Per day ({arm})", ""] + slice_table(v.days, HEADLINE_DOWNSTREAM) + [""]
    return lines


def _models_table(report: ABReport) -> list[str]:
    """Each arm's models on held-out day-0 logs: the served score's AUC with its CI over users, and
    whether the calibrated pCTR beats the position-only model."""
    lines = ["## Models (held-out day-0 logs)", "", "Ranker AUC and gAUC are of the served score (the top-slot pCTR the "
             "auction sees); log-loss and calibration (mean pCTR / CTR) of the calibrated pCTR in the logged slot; "
             "calibration to true CTR divides by the true click probabilities instead of the held-out clicks (analysis only).", "",
             "| arm | relevance AUC | ranker AUC [95% CI] | ranker gAUC | position-aware AUC | log-loss | position-only log-loss "
             "| calibration [95% CI] | calibration to true CTR |", "| --- | ---: | --- | ---: | ---: | ---: | ---: | --- | ---: |"]
    for arm, a in report.arms.items():
        m = a.model_metrics
        if "ranker_auc_ci_low" not in m:
            continue
        lines.append(f"| {arm} | {fmt(m.get('relevance_auc'))} | {fmt(m['ranker_auc'])} [{fmt(m['ranker_auc_ci_low'])}, "
                     f"{fmt(m['ranker_auc_ci_high'])}] | {fmt(m['ranker_gauc'])} | {fmt(m['ranker_auc_position_aware'])} | "
                     f"{fmt(m['ranker_log_loss'])} | {fmt(m['ranker_log_loss_position_only'])} | {fmt(m['ranker_calibration'])} "
                     f"[{fmt(m.get('ranker_calibration_ci_low'))}, {fmt(m.get('ranker_calibration_ci_high'))}] | "
                     f"{fmt(m.get('ranker_calibration_true'))} |")
    return lines + [""]


def ab_markdown(report: ABReport) -> str:
    """The A/B report: lifts per treatment arm, power, CRN, slices, days, intermediate metrics."""
    lines = [f"# A/B report: {report.name}", "",
             f"seed {report.seed}, config {report.config_hash}, {report.n_requests_served:,} requests served over "
             f"{report.n_serving_days} day(s), {report.n_users:,} users; 95 % CIs from a paired bootstrap over users "
             f"({report.n_bootstrap} resamples).", "",
             "ctr, rpm and clicks_per_request count the sampled clicks: what an online A/B of this size would see. "
             "expected_ctr, expected_rpm and expected_clicks_per_request are the same metrics in expected outcomes "
             "(the true P(click) of every shown ad, times its price): no click noise, so their CIs carry traffic noise "
             "only. The evaluation reads that truth; the system under test never does.", ""]
    for arm in report.lifts:
        lines += _arm_section(report, arm)
    lines += _models_table(report)
    inter = {arm: a.intermediate_metrics for arm, a in report.arms.items()}
    names = sorted({m for v in inter.values() for m in v if is_headline_intermediate(m)})
    if names:
        lines += ["## Intermediate metrics (held-out queries)", "", "| metric | " + " | ".join(inter) + " |",
                  "| --- |" + " ---: |" * len(inter)]
        lines += [f"| {n} | " + " | ".join(fmt(v.get(n)) for v in inter.values()) + " |" for n in names]
        lines.append("")
    return "\n".join(lines)
