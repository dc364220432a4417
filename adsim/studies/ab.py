"""The offline A/B run: every arm of the config against the control, on the same traffic.

The protocol (day-0 bootstrap, labels, training, serving with common random numbers) lives in
adsim.runs.protocol and .arm. This module turns arm outcomes into lifts with
paired-bootstrap CIs, per slice and per day, with the power of the test (minimum detectable
effect) and the variance that common random numbers remove (paired vs unpaired CI width), and
writes report.json, report.md and report.html.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable


from adsim.core.runtime import dist
from adsim.core.config import ExperimentConfig
from adsim.core.files import write_json, write_text
from adsim.core.runtime.memory import memory_note
from adsim.core.vocab import DOWNSTREAM, RATIO_METRICS
from adsim.runs.arm import ArmOutcome
from adsim.runs.runner import run_arms
from adsim.stats.bootstrap import Bootstrap
from adsim.runs.outcomes import OutcomeSums
from adsim.stats.lifts import lift_of_draws, minimum_detectable_effect, resampled_many, unpaired_ci_widths
from adsim.reports.ab_report import ABReport, ArmLifts, ArmSummary, CrnWidths, Power, ab_markdown
from adsim.reports.render.html_page import markdown_to_html
from adsim.stats.estimates import Lift
from adsim.world.build import World
from adsim.world.store import build_world_once

N_BOOTSTRAP = 1000


def grouped_lifts(c: OutcomeSums, a: OutcomeSums, boot: Bootstrap) -> dict[str, dict[str, Lift]]:
    """Every metric's lift of `a` over `c` by group, as `OutcomeSums.flat` names them ("all",
    "day=2", "modality=image"), all from one pass over the bootstrap's draws."""
    cf, af = c.flat(), a.flat()
    keys = list(af)
    draws = resampled_many([cf[k] for k in keys] + [af[k] for k in keys], boot)
    out: dict[str, dict[str, Lift]] = {}
    for i, key in enumerate(keys):
        group, metric = key.split("/")
        out.setdefault(group, {})[metric] = lift_of_draws(cf[key].value(), af[key].value(), draws[i], draws[len(keys) + i])
    return out


def _crn(lift: Lift, unpaired: float) -> CrnWidths:
    paired = lift.ci_high - lift.ci_low
    return CrnWidths(paired_ci_width=paired, unpaired_ci_width=unpaired,
                     variance_reduction=1 - (paired / unpaired) ** 2 if unpaired > 0 else float("nan"))


def arm_lifts(control: ArmOutcome, arm: ArmOutcome, boot: Bootstrap, seed: int) -> ArmLifts:
    """Lifts of `arm` over `control`: overall, per slice and per day, with power and CRN figures."""
    c, a = control.sums, arm.sums
    groups = grouped_lifts(c, a, boot)
    lift = groups.pop("all")
    headline = [m for m in lift if m in DOWNSTREAM]
    power = {m: Power(lift[m].se_relative, minimum_detectable_effect(lift[m].se_relative)) for m in headline}
    unpaired = unpaired_ci_widths([(c.overall[m], a.overall[m]) for m in headline], seed, boot.n_boot)
    crn = {m: _crn(lift[m], w) for m, w in zip(headline, unpaired)}
    lift |= {m: Lift.point(control.model_metrics[m], v) for m, v in arm.model_metrics.items()
             if m in control.model_metrics and not m.endswith(("_ci_low", "_ci_high"))}
    return ArmLifts(lift=lift, slices={g: v for g, v in groups.items() if not g.startswith("day=")},
                    days={g: v for g, v in groups.items() if g.startswith("day=")}, power=power, crn=crn)


def arm_summary(o: ArmOutcome) -> ArmSummary:
    metrics = {m: o.sums.overall[m].value() for m in RATIO_METRICS} | o.model_metrics
    return ArmSummary(encoder=o.spec["encoder"], encoder_args=o.spec["encoder_args"], click_stream=o.spec["click_stream"],
                      metrics=metrics, model_metrics=o.model_metrics, intermediate_metrics=o.intermediate)


def ab_report(cfg: ExperimentConfig, world: World, outcomes: dict[str, ArmOutcome]) -> ABReport:
    """Every arm's summary and every non-control arm's lifts over the control."""
    n_users = len(world.users.user_id)
    boot = Bootstrap(cfg.seed, n_users, N_BOOTSTRAP)
    control = outcomes["control"]
    lifts = {name: arm_lifts(control, o, boot, cfg.seed) for name, o in outcomes.items() if name != "control"}
    main = "treatment" if "treatment" in lifts else next(iter(lifts), None)
    return ABReport(name=cfg.name, seed=cfg.seed, config_hash=cfg.hash(), n_requests_served=int(((world.requests.day >= 1) & (world.requests.day < cfg.traffic.n_days)).sum()),
                    n_serving_days=cfg.traffic.n_days - 1, n_users=n_users, n_bootstrap=N_BOOTSTRAP,
                    arms={name: arm_summary(o) for name, o in outcomes.items()}, lifts=lifts, lift_arm=main)


def write_report(markdown: str, report_json: dict, folder: Path, title: str) -> None:
    """report.json, report.md and report.html (the Markdown rendered) under `folder`, atomically
    (by rank 0 alone under torchrun: every rank holds the same report)."""
    if dist.ranks().main:
        write_json(report_json, folder / "report.json")
        write_text(markdown, folder / "report.md")
        write_text(markdown_to_html(markdown, title, Path(folder)), folder / "report.html")
    dist.barrier()


def run_ab(cfg: ExperimentConfig, out_dir: str | Path, log: Callable[[str], None] = print,
           world: World | None = None, report_dir: str | Path | None = None) -> ABReport:
    """Run every arm of `cfg` (resuming finished ones); write report.json, report.md and report.html under
    `report_dir` (default: the run folder `out_dir`, which holds logs and arm outcomes)."""
    out_dir = Path(out_dir)
    t = time.perf_counter()
    if world is None:
        log(f"world: building {cfg.world.n_items:,} items, {cfg.world.n_users:,} users and "
            f"{cfg.traffic.n_requests:,} requests a day")
        world = build_world_once(cfg, out_dir)
    timings = {"world_s": time.perf_counter() - t}
    log(f"world ready in {timings['world_s']:.0f}s ({memory_note()})")
    outcomes = run_arms(cfg, out_dir, dict(cfg.arms), log=log, world=world)
    t = time.perf_counter()
    report = ab_report(cfg, world, outcomes)
    log(f"lifts and intervals ({N_BOOTSTRAP:,} bootstrap draws) in {time.perf_counter() - t:.0f}s ({memory_note()})")
    report.timings = timings | {f"arm_{arm}_s": o.seconds for arm, o in outcomes.items()}
    write_report(ab_markdown(report), report.to_json(), Path(report_dir or out_dir), f"adsim A/B: {cfg.name}")
    return report
