"""The studies' own arguments, checked before a study's modules (and torch, FAISS, TorchRec with
them) load, so that a bad one is refused in a second rather than after the model stack has loaded.
The api checks them first; the studies check them again for callers that reach them directly."""

from __future__ import annotations

from typing import Iterable

from adsim.core.errors import ConfigError


def check_ab(replicates: int, workers: int) -> None:
    """An A/B is one run (1) or replicates; workers (the ranks each replicate is served on) need replicates."""
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    if replicates == 1 and workers != 1:
        raise ConfigError(f"--workers serves each replicate on that many ranks: it needs --replicates >= 2, got --workers {workers}")
    if replicates != 1:
        check_replicates(replicates, workers)


def check_replicates(n_replicates: int, workers: int) -> None:
    """An A/B with replicates needs two of them to measure their spread."""
    if n_replicates < 2:
        raise ConfigError(f"--replicates must be 1 (one run) or >= 2 (replicates, whose spread the CIs carry), "
                          f"got {n_replicates}")
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")


def check_sweep(replicates: int, retrain: bool, own_variants: bool = True) -> None:
    """An exchange-rate sweep: one replicate at least; retraining needs two and encoders of its own."""
    if replicates < 1:
        raise ConfigError(f"--replicates must be >= 1, got {replicates}")
    if retrain and (replicates < 2 or not own_variants):
        raise ConfigError("--retrain needs --replicates >= 2 (and a sweep that trains its own encoders)")


def check_aa(n: int, alpha: float, replicates: int, workers: int) -> None:
    """A/A: at least one run, a level in (0, 1), and workers only where replicates run in parallel."""
    if n < 1 or not 0 < alpha < 1 or replicates < 1 or replicates == 1 and workers != 1:
        raise ConfigError(f"--n must be >= 1, --alpha in (0, 1), --replicates >= 1 (--workers needs replicates), got "
                          f"--n {n} --alpha {alpha} --replicates {replicates} --workers {workers}")


def check_lift_coverage(n_draws: int, truth_factor: int, arms: Iterable[str]) -> None:
    """Lift coverage: draws and a truth, and the pair of arms it trains."""
    if n_draws < 1 or truth_factor < 1 or not {"control", "treatment"} <= set(arms):
        raise ConfigError("lift coverage needs --draws >= 1, --truth-factor >= 1 and arms 'control' and 'treatment'")


def check_exchange_coverage(n_replicates: int, truth_factor: int) -> None:
    """Exchange coverage grades each replicate against the others pooled: three at least."""
    if n_replicates < 3 or truth_factor < 0 or truth_factor == 1:
        raise ConfigError(f"exchange coverage needs --replicates >= 3 and --truth-factor 0 (none) or >= 2, "
                          f"got {n_replicates}, {truth_factor}")


def check_scale_factors(factors: Iterable[float]) -> None:
    """A growth exponent needs three different sizes."""
    factors = list(factors)
    if len(set(factors)) < 3 or min(factors) <= 0:
        raise ConfigError(f"bench --scale: give at least three different positive --factors, got {factors}")


def check_compare(seeds: int, rows: Iterable[str] | None) -> None:
    """The encoder comparison: one training seed at least, and only rows it knows."""
    from adsim.studies.compare_rows import ROWS
    if seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {seeds}")
    unknown = sorted(set(rows or ()) - set(ROWS))
    if unknown:
        raise ConfigError(f"--rows: no row {', '.join(unknown)} (rows: {', '.join(ROWS)})")
