"""Replicates: the same experiment re-run on the same world with everything the arms do not
control re-drawn (served traffic, day-0 exploration, the label sample, training seeds,
latent-noise draws, click streams; `ExperimentConfig.replicate`), on several ranks with
`workers` > 1 (each replicate's day 0 and arms shared over them, as under torchrun), resumable
replicate by replicate (each is an ordinary run folder, `rep<r>/`). The lifts are combined
(adsim.stats.combine) so the interval says what another seed could show.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np

from adsim.core.runtime import dist
from adsim.core.config import ExperimentConfig
from adsim.studies.arguments import check_replicates
from adsim.core.vocab import DOWNSTREAM
from adsim.studies.ab import run_ab, write_report
from adsim.stats.combine import combine
from adsim.stats.estimates import Lift
from adsim.reports.ab_report import ABReport
from adsim.reports.replicate_report import ReplicatedABReport, ReplicatedLift, replicated_markdown


def replicate_config(cfg: ExperimentConfig, replicate: int) -> ExperimentConfig:
    return dataclasses.replace(cfg, replicate=replicate)


def _quiet(_: str) -> None:
    pass


def _replicates(configs: list[ExperimentConfig], folders: list[Path],
                log: Callable[[str], None] = _quiet) -> list[ABReport]:
    """Each replicate's A/B in turn (on launched ranks, every rank takes part in each)."""
    reports = []
    for c, f in zip(configs, folders):
        reports.append(run_ab(c, f, log=_quiet))
        log(f"replicate {c.replicate}: done")
    return reports


def run_replicates(cfg: ExperimentConfig, out: Path, n: int, workers: int, log: Callable[[str], None]) -> list[ABReport]:
    """Replicates 0..n-1 of `cfg`'s A/B (replicate 0 is the base run), each in `out/rep<r>`; with
    `workers` > 1 on that many launched ranks (`dist.launch`)."""
    configs = [replicate_config(cfg, cfg.replicate + r) for r in range(n)]
    folders = [out / f"rep{c.replicate:02d}" for c in configs]
    if workers > 1:
        reports = dist.launch(workers, _replicates, configs, folders)
        log(f"replicates {configs[0].replicate}..{configs[-1].replicate}: done on {workers} ranks")
        return reports
    return _replicates(configs, folders, log)


def combined_lifts(reports: list[ABReport], metrics: tuple[str, ...] = DOWNSTREAM,
                   level: float = 0.95) -> dict[str, dict[str, ReplicatedLift]]:
    """arm -> metric -> the replicates' relative lifts combined."""
    out: dict[str, dict[str, ReplicatedLift]] = {}
    for arm in reports[0].lifts:
        out[arm] = {m: x for m in metrics if (x := replicated_lift([r.lifts[arm].lift[m] for r in reports], level))}
    return out


def replicated_lift(lifts: list[Lift], level: float = 0.95) -> ReplicatedLift | None:
    """One metric's relative lifts, one per replicate, combined (None with fewer than 2 finite)."""
    rel = np.array([lf.relative for lf in lifts], np.float64)
    se = np.array([np.nan if lf.se_relative is None else lf.se_relative for lf in lifts], np.float64)
    ok = np.isfinite(rel) & np.isfinite(se)
    if ok.sum() < 2:
        return None
    return ReplicatedLift(base=lifts[0], replicate_lifts=rel.tolist(), combined=combine(rel[ok], se[ok], level))


def run_replicated_ab(cfg: ExperimentConfig, out: str | Path, n_replicates: int, workers: int = 1,
                      log: Callable[[str], None] = print) -> ReplicatedABReport:
    """`n_replicates` replicates of the A/B and the combined report (report.json/.md/.html in `out`)."""
    check_replicates(n_replicates, workers)
    out = Path(out)
    reports = run_replicates(cfg, out, n_replicates, workers, log)
    report = ReplicatedABReport(name=cfg.name, seed=cfg.seed, config_hash=cfg.hash(), n_replicates=n_replicates,
                                lifts=combined_lifts(reports))
    write_report(replicated_markdown(report), report.to_json(), out, f"adsim A/B with replicates: {cfg.name}")
    return report
