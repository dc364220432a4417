"""Exchange-rate coverage: over independent replicates of a sweep, how often the slope CI covers
the slope measured on much larger traffic, how the reported standard errors compare with the
slopes' actual spread, and how often a held-out variant's lift falls inside its leave-one-out
prediction interval; for every estimator, on the primary outcome and its sampled-click twin.

Two truths, both fitted with the total-covariance estimator:
- the design's own slope: the replicates' points averaged (adsim.experiments.exchange.averaged_points),
  what this sweep measures on average over its traffic, benchmark, training and day-0 draws; each
  replicate's CI is graded against the average of the others, never against its own noise;
- the same sweep on `truth_factor` times the traffic. That world's day 0 is as much larger, so its
  arms learn from more logs: a different system, whose slope the replicates need not cover.
Each replicate re-draws the requests, the clicks, the latent-noise streams and every system seed
(adsim.experiments.replicates). The variants are the same in every replicate, so their own scatter
about the line, which the slope's SE counts for a new set of variants, does not vary here: a mean
SE above the slopes' spread is expected in proportion to that part.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np

from adsim.core.config import ArmConfig, ExperimentConfig
from adsim.core.errors import ConfigError
from adsim.core.files import write_json
from adsim.core.vocab import is_expected
from adsim.experiments.exchange import SweepPoints, averaged_points, exchange_rates, shared_intermediates, sweep_points
from adsim.experiments.exchange_sweep import sweep_variants
from adsim.experiments.rate_estimators import ESTIMATORS
from adsim.experiments.replicates import replicate_config
from adsim.experiments.runner import run_arms
from adsim.reports.exchange_report import ExchangeRate
from adsim.reports.validation_report import ExchangeCoverage, ExchangeCoverageReport
from adsim.world.build import build_world

TRUTH_ESTIMATOR = "tc"
Rates = dict[str, dict[str, dict[str, ExchangeRate]]]  # estimator -> intermediate -> downstream -> rate


def graded_outcomes(cfg: ExperimentConfig) -> tuple[str, ...]:
    """The primary downstream metric and, for an expected outcome, the sampled-click metric it is the twin of."""
    d = cfg.sweep.primary
    return (d, d.removeprefix("expected_")) if is_expected(d) else (d,)


def _sweep_points(cfg: ExperimentConfig, out: Path, variants: dict[str, ArmConfig], downstream: tuple[str, ...]) -> SweepPoints:
    """Serve (or reuse) the sweep's arms in `out`; their points."""
    outcomes = run_arms(cfg, out, {"control": cfg.arms["control"], **variants}, log=lambda _: None)
    return sweep_points(outcomes["control"], {n: o for n, o in outcomes.items() if n != "control"},
                        shared_intermediates(outcomes), downstream, cfg.seed, cfg.sweep.n_bootstrap)


def _cell(truth: float, others: list[float], big: float, fits: list[ExchangeRate]) -> ExchangeCoverage:
    """`others[r]`: the design's slope without replicate r (so no CI is graded against its own noise)."""
    covers = lambda ts: float(np.mean([x.ci_low <= t <= x.ci_high for x, t in zip(fits, ts)]))  # noqa: E731
    return ExchangeCoverage(truth_slope=truth, coverage=covers(others), truth_slope_big=big, coverage_big=covers([big] * len(fits)),
                            mean_ci_width=float(np.mean([x.ci_high - x.ci_low for x in fits])),
                            slope_sd=float(np.std([x.slope for x in fits], ddof=1)), mean_se=float(np.mean([x.se for x in fits])),
                            loo_pi_coverage=float(np.nanmean([x.loo_coverage for x in fits])), n=len(fits))


def exchange_coverage(cfg: ExperimentConfig, out: str | Path, n_replicates: int = 20, truth_factor: int = 10,
                      log: Callable[[str], None] = print) -> ExchangeCoverageReport:
    """`n_replicates` sweeps and one truth sweep at `truth_factor` x the traffic; coverage of every
    estimator's rates for the primary outcome (and its sampled twin)."""
    if n_replicates < 2 or truth_factor < 2:
        raise ConfigError(f"exchange coverage needs --replicates >= 2 and --truth-factor >= 2, got {n_replicates}, {truth_factor}")
    out = Path(out)
    variants = sweep_variants(cfg, out, log, build_world(cfg))
    downstream = graded_outcomes(cfg)
    big = dataclasses.replace(cfg, traffic=dataclasses.replace(cfg.traffic, n_requests=cfg.traffic.n_requests * truth_factor))
    big_points = _sweep_points(big, out / "truth", variants, downstream)
    bigger = {e: exchange_rates(big_points, estimator=e) for e in ESTIMATORS}
    log(f"sweep at {truth_factor}x the traffic: done")
    points = []
    for r in range(n_replicates):
        c = replicate_config(cfg, cfg.replicate + r)
        points.append(_sweep_points(c, out / f"rep{c.replicate:02d}", variants, downstream))
        log(f"sweep replicate {c.replicate}: done")
    reps: list[Rates] = [{e: exchange_rates(p, estimator=e) for e in ESTIMATORS} for p in points]
    design = exchange_rates(averaged_points(points), estimator=TRUTH_ESTIMATOR)
    without = [exchange_rates(averaged_points(points[:r] + points[r + 1:]), estimator=TRUTH_ESTIMATOR) for r in range(len(points))]
    cells = {d: {e: {i: _cell(design[i][d].slope, [w[i][d].slope for w in without], bigger[TRUTH_ESTIMATOR][i][d].slope,
                              [rep[e][i][d] for rep in reps])
                     for i in design if i in bigger[TRUTH_ESTIMATOR] and all(i in rep[e] for rep in reps)}
                 for e in ESTIMATORS} for d in downstream}
    report = ExchangeCoverageReport(n_replicates=n_replicates, truth_factor=truth_factor, n_variants=len(variants), cells=cells)
    write_json(report.to_json() | {"big_sweep_slopes": {e: {i: {d: r.slope for d, r in by_d.items()} for i, by_d in rates.items()}
                                                        for e, rates in bigger.items()}}, out / "exchange_coverage.json")
    return report
