"""Exchange-rate coverage: over independent replicates of a sweep, how often the slope CI covers
the design's true slope, how the reported standard errors compare with the slopes' actual spread,
and how often a held-out variant, or a held-out family, falls inside its prediction interval; for
every estimator, on the primary outcome and its sampled-click twin.

Each replicate re-draws the requests, the clicks, the latent-noise streams and every system seed
(adsim.studies.replicates), and the members of every drawn family (FamilyConfig.draws). The
slope's SE claims the noise of all of these, a new set of variants' scatter about the line
included, so a study whose variants are all fixed (grid families, listed variants) cannot show it:
its replicates share one set of variants and their slopes spread less than the SE says.

The truth is the design's slope: every *other* replicate's points pooled (R - 1 times the traffic
and, with drawn families, the variants) and fitted with the total-covariance estimator; a replicate
is never graded against its own noise. With `truth_factor` > 0 a second truth is reported beside it:
the first replicate's variants served on `truth_factor` times the traffic. That world's day 0 is as
much larger, so its arms learn from more logs: a different system, whose slope the replicates need
not cover.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np

from adsim.core.config import ExperimentConfig
from adsim.studies.arguments import check_exchange_coverage
from adsim.core.files import write_json
from adsim.core.vocab import is_expected
from adsim.studies.exchange import SweepPoints, exchange_rates, shared_coordinates, shared_intermediates, sweep_points
from adsim.studies.exchange_sweep import sweep_variants
from adsim.stats.rate_estimators import ESTIMATORS
from adsim.studies.replicates import replicate_config
from adsim.runs.runner import run_arms
from adsim.stats.estimates import ExchangeRate
from adsim.reports.validation_report import ExchangeCoverage, ExchangeCoverageReport
from adsim.world.build import World, build_world

TRUTH_ESTIMATOR = "tc"
Rates = dict[str, dict[str, dict[str, ExchangeRate]]]  # estimator -> intermediate -> downstream -> rate


def graded_outcomes(cfg: ExperimentConfig) -> tuple[str, ...]:
    """The primary downstream metric and, for an expected outcome, the sampled-click metric it is the twin of."""
    d = cfg.sweep.primary
    return (d, d.removeprefix("expected_")) if is_expected(d) else (d,)


def _sweep_points(cfg: ExperimentConfig, world: World, out: Path, downstream: tuple[str, ...],
                  log: Callable[[str], None]) -> SweepPoints:
    """Serve (or reuse) the sweep's arms, its members drawn for this replicate, in `out`; their
    points. `world`: cfg's, built once for the variants and the arms."""
    variants = sweep_variants(cfg, out / "encoders", log, world)
    outcomes = run_arms(cfg, out, {"control": cfg.arms["control"], **variants}, log=lambda _: None, world=world)
    points = sweep_points(outcomes["control"], {n: o for n, o in outcomes.items() if n != "control"},
                          shared_intermediates(outcomes), downstream, cfg.seed, cfg.sweep.n_bootstrap)
    return points.with_families(cfg.sweep.family_of)


def pooled_points(sweeps: list[SweepPoints]) -> SweepPoints:
    """Several sweeps' points side by side, as one sweep of all their variants (each lift is over
    its own sweep's control); bootstrap draws are independent across sweeps, so they stand side by
    side draw for draw. Intermediates and draws every sweep has."""
    inter, with_x, n_x = shared_coordinates(sweeps)
    n_y = min(len(b) for p in sweeps for b in p.y_boot.values())
    cat = lambda get: np.concatenate([get(p) for p in sweeps], axis=-1)  # noqa: E731
    return SweepPoints(variants=[f"{r}/{v}" for r, p in enumerate(sweeps) for v in p.variants],
                       x={i: cat(lambda p: p.x[i]) for i in inter}, y={d: cat(lambda p: p.y[d]) for d in sweeps[0].y},
                       y_boot={d: cat(lambda p: p.y_boot[d][:n_y]) for d in sweeps[0].y},
                       y_ci={d: cat(lambda p: p.y_ci[d]) for d in sweeps[0].y},
                       x_boot={i: cat(lambda p: p.x_boot[i][:n_x]) for i in with_x})


def _cell(truths: list[float], big: float, fits: list[ExchangeRate]) -> ExchangeCoverage:
    """`truths[r]`: the design's slope without replicate r."""
    covers = lambda ts: float(np.mean([x.ci_low <= t <= x.ci_high for x, t in zip(fits, ts)]))  # noqa: E731
    families = [c for x in fits for c in x.family_coverage.values()]
    return ExchangeCoverage(truth_slope=float(np.mean(truths)), coverage=covers(truths), truth_slope_big=big,
                            coverage_big=covers([big] * len(fits)) if np.isfinite(big) else float("nan"),
                            mean_ci_width=float(np.mean([x.ci_high - x.ci_low for x in fits])),
                            slope_sd=float(np.std([x.slope for x in fits], ddof=1)), mean_se=float(np.mean([x.se for x in fits])),
                            loo_pi_coverage=float(np.nanmean([x.loo_coverage for x in fits])),
                            family_pi_coverage=float(np.mean(families)) if families else float("nan"), n=len(fits))


def exchange_coverage(cfg: ExperimentConfig, out: str | Path, n_replicates: int = 20, truth_factor: int = 0,
                      log: Callable[[str], None] = print) -> ExchangeCoverageReport:
    """`n_replicates` sweeps (and, with `truth_factor` > 0, one at that many times the traffic);
    coverage of every estimator's rates for the primary outcome (and its sampled twin)."""
    check_exchange_coverage(n_replicates, truth_factor)
    out = Path(out)
    downstream = graded_outcomes(cfg)
    points = []
    for r in range(n_replicates):
        c = replicate_config(cfg, cfg.replicate + r)  # its world re-draws the requests
        points.append(_sweep_points(c, build_world(c), out / f"rep{c.replicate:02d}", downstream, log))
        log(f"sweep replicate {c.replicate}: done")
    reps: list[Rates] = [{e: exchange_rates(p, estimator=e) for e in ESTIMATORS} for p in points]
    without = [exchange_rates(pooled_points(points[:r] + points[r + 1:]), estimator=TRUTH_ESTIMATOR, loo=False)
               for r in range(len(points))]
    bigger: dict[str, dict[str, ExchangeRate]] = {}
    if truth_factor:
        big = dataclasses.replace(cfg, traffic=dataclasses.replace(cfg.traffic, n_requests=cfg.traffic.n_requests * truth_factor))
        bigger = exchange_rates(_sweep_points(big, build_world(big), out / "truth", downstream, log),
                                estimator=TRUTH_ESTIMATOR, loo=False)
        log(f"sweep at {truth_factor}x the traffic: done")
    shared = [i for i in without[0] if all(i in w for w in without) and all(i in rep[e] for rep in reps for e in ESTIMATORS)]
    cells = {d: {e: {i: _cell([w[i][d].slope for w in without], bigger[i][d].slope if i in bigger else float("nan"),
                              [rep[e][i][d] for rep in reps]) for i in shared}
                 for e in ESTIMATORS} for d in downstream}
    report = ExchangeCoverageReport(n_replicates=n_replicates, truth_factor=truth_factor,
                                    n_variants=len(points[0].variants), cells=cells)
    write_json(report.to_json(), out / "exchange_coverage.json")
    return report
