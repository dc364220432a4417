"""Exchange-rate coverage: over independent replicates of a sweep, how often the slope CI covers
the slope measured on much larger traffic, how the reported standard errors compare with the
slopes' actual spread, and how often a held-out variant's lift falls inside its leave-one-out
prediction interval; for every estimator, on the primary outcome and its sampled-click twin.

The truth is the same sweep (same variants, the base replicate's training) served on
`truth_factor` times the traffic, fitted with the total-covariance estimator (at that size the
estimators agree closely; each one's truth slope is saved beside it). It still carries that one
training draw, which the replicates' CIs must cover too. Each replicate re-draws the requests, the
clicks, the latent-noise streams and every system seed (adsim.experiments.replicates).
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
from adsim.experiments.exchange import exchange_rates, shared_intermediates, sweep_points
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


def _sweep_rates(cfg: ExperimentConfig, out: Path, variants: dict[str, ArmConfig], downstream: tuple[str, ...]) -> Rates:
    """Serve (or reuse) the sweep's arms in `out` and fit every estimator to the same points."""
    outcomes = run_arms(cfg, out, {"control": cfg.arms["control"], **variants}, log=lambda _: None)
    points = sweep_points(outcomes["control"], {n: o for n, o in outcomes.items() if n != "control"},
                          shared_intermediates(outcomes), downstream, cfg.seed, cfg.sweep.n_bootstrap)
    return {e: exchange_rates(points, estimator=e) for e in ESTIMATORS}


def _cell(truth: float, fits: list[ExchangeRate]) -> ExchangeCoverage:
    return ExchangeCoverage(truth_slope=truth, coverage=float(np.mean([x.ci_low <= truth <= x.ci_high for x in fits])),
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
    truth = _sweep_rates(big, out / "truth", variants, downstream)
    log(f"truth sweep at {truth_factor}x the traffic: done")
    reps: list[Rates] = []
    for r in range(n_replicates):
        c = replicate_config(cfg, cfg.replicate + r)
        reps.append(_sweep_rates(c, out / f"rep{c.replicate:02d}", variants, downstream))
        log(f"sweep replicate {c.replicate}: done")
    cells = {d: {e: {i: _cell(truth[TRUTH_ESTIMATOR][i][d].slope, [rep[e][i][d] for rep in reps if i in rep[e]])
                     for i in truth[TRUTH_ESTIMATOR] if sum(i in rep[e] for rep in reps) > 1}
                 for e in ESTIMATORS} for d in downstream}
    report = ExchangeCoverageReport(n_replicates=n_replicates, truth_factor=truth_factor, n_variants=len(variants), cells=cells)
    write_json(report.to_json() | {"truth_slopes": {e: {i: {d: r.slope for d, r in by_d.items()} for i, by_d in rates.items()}
                                                    for e, rates in truth.items()}}, out / "exchange_coverage.json")
    return report
