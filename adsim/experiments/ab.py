"""The offline A/B run: every arm of the config against the control, on the same traffic.

The protocol (day-0 bootstrap, labels, training, serving with common random numbers) lives in
adsim.protocol. This module turns arm outcomes into lifts with paired-bootstrap CIs, per slice and
per day, with the power of the test (minimum detectable effect) and the variance that common random
numbers remove (paired vs unpaired CI width), and writes report.json, report.md and report.html.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from adsim.core.config import ExperimentConfig
from adsim.core.vocab import DOWNSTREAM
from adsim.reports.html_page import markdown_to_html
from adsim.core.files import write_json, write_text
from adsim.experiments.outcomes import RATIO_METRICS
from adsim.experiments.protocol import ArmOutcome
from adsim.experiments.stats import bootstrap_weights, minimum_detectable_effect, paired_lift, unpaired_ci_width
from adsim.experiments.runner import run_arms
from adsim.world.build import World, build_world

N_BOOTSTRAP = 1000


def _model_lift(c: float, v: float) -> dict:
    return {"control": c, "treatment": v, "absolute": v - c, "relative": v / c - 1 if c else float("nan"),
            "ci_low": None, "ci_high": None, "abs_ci_low": None, "abs_ci_high": None, "p_value": None, "se_relative": None}


def arm_lifts(control: ArmOutcome, arm: ArmOutcome, weights: np.ndarray, seed: int) -> dict:
    """Lifts of `arm` over `control`: overall, per slice and per day, with power and CRN figures."""
    out: dict = {"lift": {}, "slices": {}, "days": {}, "power": {}, "crn": {}}
    for key, ratio in arm.sums.items():
        group, metric = key.split("/")
        lift = paired_lift(control.sums[key], ratio, weights)
        if group == "all":
            out["lift"][metric] = lift.as_dict()
            if metric in DOWNSTREAM:  # power and CRN rows
                unpaired = unpaired_ci_width(control.sums[key], ratio, seed, len(weights))
                paired = lift.ci_high - lift.ci_low
                out["power"][metric] = {"se_relative": lift.se_relative, "mde_relative": minimum_detectable_effect(lift.se_relative)}
                out["crn"][metric] = {"paired_ci_width": paired, "unpaired_ci_width": unpaired,
                                      "variance_reduction": 1 - (paired / unpaired) ** 2 if unpaired > 0 else float("nan")}
        elif group.startswith("day="):
            out["days"].setdefault(group, {})[metric] = lift.as_dict()
        else:
            out["slices"].setdefault(group, {})[metric] = lift.as_dict()
    for m, v in arm.model_metrics.items():
        if m in control.model_metrics:
            out["lift"][m] = _model_lift(control.model_metrics[m], v)
    return out


def run_ab(cfg: ExperimentConfig, out_dir: str | Path, log: Callable[[str], None] = print,
           world: World | None = None, report_dir: str | Path | None = None) -> dict:
    """Run every arm of `cfg` (resuming finished ones); write report.json, report.md and report.html under
    `report_dir` (default: the run folder `out_dir`, which holds logs and arm outcomes)."""
    out_dir = Path(out_dir)
    report_dir = Path(report_dir or out_dir)
    t = time.perf_counter()
    world = world or build_world(cfg)
    timings = {"world_s": time.perf_counter() - t}
    outcomes = run_arms(cfg, out_dir, dict(cfg.arms), log=log, world=world)
    timings |= {f"arm_{arm}_s": o.seconds for arm, o in outcomes.items()}
    report = ab_report(cfg, world, outcomes)
    report["timings"] = timings
    md = render_markdown(report)
    write_json(report, report_dir / "report.json")
    write_text(md, report_dir / "report.md")
    write_text(markdown_to_html(md, f"adsim A/B: {cfg.name}"), report_dir / "report.html")
    return report


def ab_report(cfg: ExperimentConfig, world: World, outcomes: dict[str, ArmOutcome]) -> dict:
    n_users = len(world.users.user_id)
    weights = bootstrap_weights(cfg.seed, n_users, N_BOOTSTRAP)
    control = outcomes["control"]
    arms = {name: {"encoder": o.spec["encoder"], "encoder_args": o.spec["encoder_args"], "click_stream": o.spec["click_stream"],
                   "metrics": {m: o.sums[f"all/{m}"].value() for m in RATIO_METRICS} | o.model_metrics,
                   "model_metrics": o.model_metrics, "intermediate_metrics": o.intermediate}
            for name, o in outcomes.items()}
    per_arm = {name: arm_lifts(control, o, weights, cfg.seed) for name, o in outcomes.items() if name != "control"}
    main = "treatment" if "treatment" in per_arm else next(iter(per_arm), None)
    served = int((world.requests.day >= 1).sum())
    return {"name": cfg.name, "seed": cfg.seed, "config_hash": cfg.hash(), "n_requests_served": served,
            "n_serving_days": cfg.traffic.n_days - 1, "n_users": n_users, "n_bootstrap": N_BOOTSTRAP, "arms": arms,
            "lift_arm": main, "lift": per_arm[main]["lift"] if main else {},
            "lifts": {a: v["lift"] for a, v in per_arm.items()},
            "slices": {a: v["slices"] for a, v in per_arm.items()}, "days": {a: v["days"] for a, v in per_arm.items()},
            "power": {a: v["power"] for a, v in per_arm.items()}, "crn": {a: v["crn"] for a, v in per_arm.items()}}


def fmt(v: float | None, pct: bool = False) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    return f"{v * 100:+.2f}%" if pct else f"{v:.4g}"


def _ci(l: dict) -> str:
    return f"[{fmt(l['ci_low'], True)}, {fmt(l['ci_high'], True)}]" if l.get("ci_low") is not None else "–"


def lift_table(lifts: dict[str, dict], label: str = "metric", treat: str = "treatment") -> list[str]:
    lines = [f"| {label} | control | {treat} | lift | 95% CI | p |", "| --- | ---: | ---: | ---: | --- | ---: |"]
    for m, l in lifts.items():
        lines.append(f"| {m} | {fmt(l['control'])} | {fmt(l['treatment'])} | {fmt(l['relative'], True)} | {_ci(l)} | {fmt(l['p_value'])} |")
    return lines


def slice_table(slices: dict[str, dict[str, dict]], metrics: tuple[str, ...] = ("ctr", "rpm")) -> list[str]:
    """One row per slice: the relative lift and CI of each metric."""
    lines = ["| slice | " + " | ".join(f"{m} lift | {m} 95% CI" for m in metrics) + " |",
             "| --- |" + " ---: | --- |" * len(metrics)]
    for name, lifts in slices.items():
        lines.append(f"| {name} | " + " | ".join(f"{fmt(lifts[m]['relative'], True)} | {_ci(lifts[m])}" for m in metrics) + " |")
    return lines


def render_markdown(report: dict) -> str:
    """The A/B report: lifts per treatment arm, power, CRN, slices, days, intermediate metrics."""
    lines = [f"# A/B report: {report['name']}", "",
             f"seed {report['seed']}, config {report['config_hash']}, {report['n_requests_served']:,} requests served over "
             f"{report['n_serving_days']} day(s), {report['n_users']:,} users; 95 % CIs from a paired bootstrap over users "
             f"({report['n_bootstrap']} resamples).", ""]
    ctrl = report["arms"]["control"]
    for arm, lift in report["lifts"].items():
        spec = report["arms"][arm]
        lines += [f"## {arm} vs control", "",
                  f"control: `{ctrl['encoder']}` {ctrl['encoder_args']}; {arm}: `{spec['encoder']}` {spec['encoder_args']}"
                  + (f", click stream {spec['click_stream']}" if spec["click_stream"] else ""), ""]
        lines += lift_table(lift, treat=arm) + [""]
        lines += ["Power and common random numbers: minimum detectable relative effect (two-sided α = 0.05, power 0.8) "
                  "at this traffic, and the CI width with paired arms (shared users, requests and click draws) vs "
                  "resampling the arms independently.", "",
                  "| metric | MDE | CI width paired | CI width unpaired | variance removed |", "| --- | ---: | ---: | ---: | ---: |"]
        for m, p in report["power"][arm].items():
            c = report["crn"][arm][m]
            lines.append(f"| {m} | {fmt(p['mde_relative'], True).lstrip('+')} | {fmt(c['paired_ci_width'], True).lstrip('+')} | "
                         f"{fmt(c['unpaired_ci_width'], True).lstrip('+')} | {c['variance_reduction'] * 100:.0f}% |")
        lines += ["", f"### Slices ({arm})", ""] + slice_table(report["slices"][arm]) + [""]
        if report["days"][arm]:
            lines += [f"### Per day ({arm})", ""] + slice_table(report["days"][arm], ("ctr", "rpm", "clicks_per_request")) + [""]
    inter = {arm: a.get("intermediate_metrics", {}) for arm, a in report["arms"].items()}
    names = sorted({m for v in inter.values() for m in v if "@10" in m or m.startswith(("probe", "alignment", "uniformity"))})
    if names:
        lines += ["## Intermediate metrics (held-out queries)", "", "| metric | " + " | ".join(inter) + " |",
                  "| --- |" + " ---: |" * len(inter)]
        lines += [f"| {n} | " + " | ".join(fmt(v.get(n)) for v in inter.values()) + " |" for n in names]
        lines.append("")
    return "\n".join(lines)
