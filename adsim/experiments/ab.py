"""The offline A/B run: every arm of the config against the control, on the same traffic.

The protocol (day-0 bootstrap, labels, training, serving with common random numbers) lives in
adsim.experiments.protocol and .arm. This module turns arm outcomes into lifts with
paired-bootstrap CIs, per slice and per day, with the power of the test (minimum detectable
effect) and the variance that common random numbers remove (paired vs unpaired CI width), and
writes report.json, report.md and report.html.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from adsim.core import dist
from adsim.core.config import ExperimentConfig
from adsim.core.files import write_json, write_text
from adsim.core.vocab import DOWNSTREAM, RATIO_METRICS
from adsim.experiments.arm import ArmOutcome
from adsim.experiments.runner import run_arms
from adsim.experiments.bootstrap import Bootstrap
from adsim.experiments.outcomes import OutcomeSums
from adsim.experiments.stats import RatioMetric, lift_of_draws, minimum_detectable_effect, resampled_many, unpaired_ci_widths
from adsim.reports.ab_report import ABReport, ArmLifts, ArmSummary, CrnWidths, Power, ab_markdown
from adsim.reports.html_page import markdown_to_html
from adsim.reports.lift import Lift
from adsim.world.build import World
from adsim.world.store import build_world_once

N_BOOTSTRAP = 1000


def _lifts(c: OutcomeSums, a: OutcomeSums, group: Callable[[OutcomeSums], dict[str, RatioMetric]],
           draws: dict[tuple[int, str], np.ndarray], key: str) -> dict[str, Lift]:
    control = group(c)
    return {m: lift_of_draws(control[m].value(), ratio.value(), draws[0, f"{key}/{m}"], draws[1, f"{key}/{m}"])
            for m, ratio in group(a).items()}


def _crn(lift: Lift, unpaired: float) -> CrnWidths:
    paired = lift.ci_high - lift.ci_low
    return CrnWidths(paired_ci_width=paired, unpaired_ci_width=unpaired,
                     variance_reduction=1 - (paired / unpaired) ** 2 if unpaired > 0 else float("nan"))


def arm_lifts(control: ArmOutcome, arm: ArmOutcome, boot: Bootstrap, seed: int) -> ArmLifts:
    """Lifts of `arm` over `control`: overall, per slice and per day, with power and CRN figures.
    Every metric's resamples come from one pass over the bootstrap's draws (`resampled_many`)."""
    c, a = control.sums, arm.sums
    flat = [(i, k, v) for i, sums in enumerate((c, a)) for k, v in sums.flat().items()]
    draws = dict(zip([(i, k) for i, k, _ in flat], resampled_many([v for *_, v in flat], boot)))
    lift = _lifts(c, a, lambda s: s.overall, draws, "all")
    headline = [m for m in lift if m in DOWNSTREAM]
    power = {m: Power(lift[m].se_relative, minimum_detectable_effect(lift[m].se_relative)) for m in headline}
    unpaired = unpaired_ci_widths([(c.overall[m], a.overall[m]) for m in headline], seed, boot.n_boot)
    crn = {m: _crn(lift[m], w) for m, w in zip(headline, unpaired)}
    lift |= {m: Lift.point(control.model_metrics[m], v) for m, v in arm.model_metrics.items()
             if m in control.model_metrics and not m.endswith(("_ci_low", "_ci_high"))}
    return ArmLifts(lift=lift, slices={s: _lifts(c, a, lambda x, s=s: x.slices[s], draws, s) for s in a.slices},
                    days={f"day={d}": _lifts(c, a, lambda x, d=d: x.days[d], draws, f"day={d}") for d in a.days},
                    power=power, crn=crn)


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
        write_text(markdown_to_html(markdown, title), folder / "report.html")
    dist.barrier()


def run_ab(cfg: ExperimentConfig, out_dir: str | Path, log: Callable[[str], None] = print,
           world: World | None = None, report_dir: str | Path | None = None) -> ABReport:
    """Run every arm of `cfg` (resuming finished ones); write report.json, report.md and report.html under
    `report_dir` (default: the run folder `out_dir`, which holds logs and arm outcomes)."""
    out_dir = Path(out_dir)
    t = time.perf_counter()
    world = world or build_world_once(cfg, out_dir)
    timings = {"world_s": time.perf_counter() - t}
    log(f"world ready in {timings['world_s']:.0f}s")
    outcomes = run_arms(cfg, out_dir, dict(cfg.arms), log=log, world=world)
    report = ab_report(cfg, world, outcomes)
    report.timings = timings | {f"arm_{arm}_s": o.seconds for arm, o in outcomes.items()}
    write_report(ab_markdown(report), report.to_json(), Path(report_dir or out_dir), f"adsim A/B: {cfg.name}")
    return report
