"""Exchange-rate coverage: over independent replicates of a sweep, how often the slope CI covers
the slope measured on much larger traffic, and how often a held-out variant's lift falls inside
its leave-one-out prediction interval.

The truth is the same sweep (same variants, the base replicate's training) served on
`truth_factor` times the traffic; it still carries that one training draw, which the
replicates' CIs must cover too.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np

from adsim.core.config import ExperimentConfig
from adsim.core.errors import ConfigError
from adsim.core.files import write_json
from adsim.experiments.exchange_sweep import run_exchange_rate, trained_variants
from adsim.experiments.replicates import replicate_config
from adsim.reports.validation_report import ExchangeCoverage, ExchangeCoverageReport
from adsim.world.build import build_world


def exchange_coverage(cfg: ExperimentConfig, out: str | Path, n_replicates: int = 20, truth_factor: int = 10,
                      log: Callable[[str], None] = print) -> ExchangeCoverageReport:
    """`n_replicates` sweeps and one truth sweep at `truth_factor` x the traffic; coverage of the primary metric's rates."""
    if n_replicates < 2 or truth_factor < 2:
        raise ConfigError(f"exchange coverage needs --replicates >= 2 and --truth-factor >= 2, got {n_replicates}, {truth_factor}")
    out = Path(out)
    variants = dict(cfg.sweep.variants) | trained_variants(cfg, out, log, build_world(cfg))
    big = dataclasses.replace(cfg, traffic=dataclasses.replace(cfg.traffic, n_requests=cfg.traffic.n_requests * truth_factor))
    truth = run_exchange_rate(big, out / "truth", log=lambda _: None, variants=variants)
    log(f"truth sweep at {truth_factor}x the traffic: done")
    d = cfg.sweep.primary
    rates: dict[str, list] = {i: [] for i in truth.exchange_rates}
    for r in range(n_replicates):
        c = replicate_config(cfg, cfg.replicate + r)
        report = run_exchange_rate(c, out / f"rep{c.replicate:02d}", log=lambda _: None, variants=variants)
        for i in rates:
            if i in report.exchange_rates:
                rates[i].append(report.exchange_rates[i][d])
        log(f"sweep replicate {c.replicate}: done")
    metrics = {i: ExchangeCoverage(
        truth_slope=truth.exchange_rates[i][d].slope,
        coverage=float(np.mean([x.ci_low <= truth.exchange_rates[i][d].slope <= x.ci_high for x in rs])),
        mean_ci_width=float(np.mean([x.ci_high - x.ci_low for x in rs])),
        slope_sd=float(np.std([x.slope for x in rs], ddof=1)), mean_se=float(np.mean([x.se for x in rs])),
        loo_pi_coverage=float(np.nanmean([x.loo_coverage for x in rs])), n=len(rs)) for i, rs in rates.items() if len(rs) > 1}
    report = ExchangeCoverageReport(n_replicates=n_replicates, truth_factor=truth_factor, downstream=d,
                                    n_variants=len(variants), metrics=metrics)
    write_json(report.to_json(), out / "exchange_coverage.json")
    return report
