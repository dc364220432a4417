"""Lift coverage: do the A/B report's 95 % CIs cover the true lift as often as they claim?

Two systems are trained once (the config's control and treatment, on the shared day 0). They
then serve many independent traffic draws: fresh day-1 requests from the world's generator (new
users' visits, intents and queries) and fresh click draws, the two arms sharing each draw's
requests and click stream as an A/B does. Each draw gives the report's paired-bootstrap CI. The
true lift is the lift in expected metrics (P(click) and the price a click pays, no click noise)
over `truth_factor` further draws, each of the same size (the daily budgets bind as they do in
one day of traffic). Both kinds of lift the A/B report gives are graded against it: the sampled-click
lifts (their interval claims to cover traffic and click noise) and the expected-outcome lifts (traffic
noise only), for these two trained systems; training noise is the replicates' business
(adsim.studies.replicates).
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path
from typing import Callable

from adsim.core.config import ExperimentConfig
from adsim.studies.arguments import check_lift_coverage
from adsim.core.files import write_json
from adsim.core.vocab import EXPECTED_DOWNSTREAM, HEADLINE_DOWNSTREAM, expected, is_expected
from adsim.runs.arm import resolved
from adsim.runs.outcomes import ratio_sums
from adsim.runs.protocol import RunContext, prepare_day0
from adsim.stats.bootstrap import bootstrap_weights
from adsim.stats.lifts import paired_lift
from adsim.runs.training import train_arm
from adsim.reports.validation_report import CoverageReport, MetricCoverage
from adsim.serving.engine import serve_day
from adsim.serving.records import DayResult
from adsim.serving.system import ArmEmbeddings, ArmSystem
from adsim.world.behaviour import traffic_draw
from adsim.world.build import World, build_world
from encoders.registry import make_provider

DAY = 1
CLICK_STREAM_BASE = 10_000  # draw i clicks on stream BASE + i: independent of the A/B's streams


TESTED = HEADLINE_DOWNSTREAM + EXPECTED_DOWNSTREAM
TRUTH_OF = {m: m if is_expected(m) else expected(m) for m in TESTED}  # the expected lift both kinds estimate


def _on_draw(world: World, systems: dict[str, ArmSystem], cfg: ExperimentConfig, draw: int) -> tuple[World, dict[str, ArmSystem]]:
    """The world with draw `draw`'s day-1 requests, and each trained system reading them with its
    provider rebuilt on that world (the item vectors, index and models unchanged)."""
    requests = traffic_draw(world.users, world.items, world.brands.name, cfg.traffic, cfg.seed, draw, DAY)
    drawn = dataclasses.replace(world, requests=requests)
    out = {}
    for name, system in systems.items():
        spec = resolved(name, cfg.arms[name], cfg.replicate)
        emb = system.embeddings.reading(make_provider(spec.encoder, spec.encoder_args, drawn))
        out[name] = dataclasses.replace(system, embeddings=emb, click_stream=CLICK_STREAM_BASE + draw)
    return drawn, out


def _serve_draw(world, systems, cfg, seq, scratch: Path, draw: int) -> dict[str, DayResult]:
    drawn, on_draw = _on_draw(world, systems, cfg, draw)
    results = {n: serve_day(drawn, s, DAY, seq, scratch, cfg.clicks, cfg.engine) for n, s in on_draw.items()}
    shutil.rmtree(scratch / "logs", ignore_errors=True)
    return results


def _trained(world: World, cfg: ExperimentConfig, out: Path, log: Callable[[str], None]):
    day0 = prepare_day0(world, cfg, out, log)
    ctx = RunContext(world, cfg, day0, out, log=log)
    systems = {}
    for name in ("control", "treatment"):
        spec = resolved(name, cfg.arms[name], cfg.replicate)
        emb = ArmEmbeddings.of(name, make_provider(spec.encoder, spec.encoder_args, world), world.view.items,
                               cfg.stage("retrieval", spec))
        systems[name], _ = train_arm(ctx, name, spec, emb)
    return systems, day0.seq


def lift_coverage(cfg: ExperimentConfig, out: str | Path, n_draws: int = 100, truth_factor: int = 10,
                  n_boot: int = 500, level: float = 0.95, log: Callable[[str], None] = print) -> CoverageReport:
    """Serve `n_draws` tested traffic draws and `truth_factor` truth draws with one pair of trained systems."""
    check_lift_coverage(n_draws, truth_factor, cfg.arms)
    out, start = Path(out), time.perf_counter()
    world = build_world(cfg)
    systems, seq = _trained(world, cfg, out, log)
    n_users = len(world.users.user_id)
    truth = {m: {a: [0.0, 0.0] for a in systems} for m in EXPECTED_DOWNSTREAM}
    for t in range(truth_factor):
        for arm, d in _serve_draw(world, systems, cfg, seq, out / "scratch", n_draws + t).items():
            sums = ratio_sums(d, n_users)
            for m in EXPECTED_DOWNSTREAM:
                truth[m][arm][0] += sums[m].num.sum()
                truth[m][arm][1] += sums[m].den.sum()
    true_lift = {m: (v["treatment"][0] / v["treatment"][1]) / (v["control"][0] / v["control"][1]) - 1 for m, v in truth.items()}
    weights = bootstrap_weights(cfg.seed, n_users, n_boot)
    lifts: dict[str, list] = {m: [] for m in TESTED}
    for draw in range(n_draws):
        results = _serve_draw(world, systems, cfg, seq, out / "scratch", draw)
        sums = {a: ratio_sums(d, n_users) for a, d in results.items()}
        for m in TESTED:
            lifts[m].append(paired_lift(sums["control"][m], sums["treatment"][m], weights, level))
        if (draw + 1) % 10 == 0 or draw + 1 == n_draws:
            log(f"coverage: {draw + 1}/{n_draws} traffic draws served")
    report = CoverageReport(n_draws=n_draws, truth_factor=truth_factor, level=level, n_requests=cfg.traffic.n_requests,
                            metrics={m: MetricCoverage.of(true_lift[TRUTH_OF[m]], lifts[m]) for m in TESTED},
                            seconds=time.perf_counter() - start)
    write_json(report.to_json(), out / "coverage.json")
    return report
