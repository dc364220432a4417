"""Replicates: the same experiment re-run on the same world with everything the arms do not
control re-drawn (served traffic, day-0 exploration, the label sample, training seeds,
latent-noise draws, click streams; `ExperimentConfig.replicate`), in parallel processes,
resumable replicate by replicate (each is an ordinary run folder, `rep<r>/`). The lifts are
combined (adsim.experiments.combine) so the interval says what another seed could show.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np

from adsim.core.config import ExperimentConfig
from adsim.core.errors import ConfigError
from adsim.core.vocab import DOWNSTREAM
from adsim.experiments.ab import run_ab, write_report
from adsim.experiments.combine import combine
from adsim.experiments.runner import spawn_pool
from adsim.reports.ab_report import ABReport
from adsim.reports.replicate_report import ReplicatedABReport, ReplicatedLift, replicated_markdown


def replicate_config(cfg: ExperimentConfig, replicate: int) -> ExperimentConfig:
    return dataclasses.replace(cfg, replicate=replicate)


def _quiet(_: str) -> None:
    pass


def _one(cfg: ExperimentConfig, folder: Path, threads: int) -> ABReport:
    import torch
    torch.set_num_threads(threads)
    return run_ab(cfg, folder, log=_quiet)


def run_replicates(cfg: ExperimentConfig, out: Path, n: int, workers: int, log: Callable[[str], None]) -> list[ABReport]:
    """Replicates 0..n-1 of `cfg`'s A/B (replicate 0 is the base run), each in `out/rep<r>`."""
    configs = [replicate_config(cfg, cfg.replicate + r) for r in range(n)]
    folders = [out / f"rep{c.replicate:02d}" for c in configs]
    if workers <= 1 or n == 1:
        reports = []
        for c, f in zip(configs, folders):
            reports.append(run_ab(c, f, log=_quiet))
            log(f"replicate {c.replicate}: done")
        return reports
    pool, threads = spawn_pool(workers, n)
    with pool:
        futures = [pool.submit(_one, c, f, threads) for c, f in zip(configs, folders)]
        reports = []
        for c, fut in zip(configs, futures):
            reports.append(fut.result())
            log(f"replicate {c.replicate}: done")
    return reports


def combined_lifts(reports: list[ABReport], metrics: tuple[str, ...] = DOWNSTREAM,
                   level: float = 0.95) -> dict[str, dict[str, ReplicatedLift]]:
    """arm -> metric -> the replicates' relative lifts combined."""
    out: dict[str, dict[str, ReplicatedLift]] = {}
    for arm in reports[0].lifts:
        out[arm] = {}
        for m in metrics:
            lifts = [r.lifts[arm].lift[m] for r in reports]
            rel = np.array([lf.relative for lf in lifts])
            se = np.array([lf.se_relative for lf in lifts])
            ok = np.isfinite(rel) & np.isfinite(se)
            if ok.sum() < 2:
                continue
            out[arm][m] = ReplicatedLift(base=lifts[0], replicate_lifts=rel.tolist(),
                                         combined=combine(rel[ok], se[ok], level))
    return out


def run_replicated_ab(cfg: ExperimentConfig, out: str | Path, n_replicates: int, workers: int = 1,
                      log: Callable[[str], None] = print) -> ReplicatedABReport:
    """`n_replicates` replicates of the A/B and the combined report (report.json/.md/.html in `out`)."""
    if n_replicates < 2:
        raise ConfigError(f"--replicates must be >= 2 to measure the spread between replicates, got {n_replicates}")
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    out = Path(out)
    reports = run_replicates(cfg, out, n_replicates, workers, log)
    report = ReplicatedABReport(name=cfg.name, seed=cfg.seed, config_hash=cfg.hash(), n_replicates=n_replicates,
                                lifts=combined_lifts(reports))
    write_report(replicated_markdown(report), report.to_json(), out, f"adsim A/B with replicates: {cfg.name}")
    return report
