"""A/A checks: do the A/B statistics report "no difference" at the stated rate when there is none?

Each simulation is a whole A/B run on its own seed (own world, traffic and day-0 logs) with two
identical arms. Identical arms on the same click stream would give exactly zero lift (common
random numbers), which checks nothing; so the second arm's users click from an independent
stream (`click_stream = 1`): the arms differ only by outcome noise, as two buckets of one system
do online. A calibrated 95 % CI then excludes zero in about 5 % of simulations.

With replicates (the full-pipeline A/A) the twin is also trained from other seeds (its relevance
model and ranker), so the two arms differ by training noise as well, and each simulation's
verdict is the combined CI over its replicates (adsim.studies.replicates): the click-noise
CI alone would call such twins different far more often than 5 %.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np

from adsim.core.config import ExperimentConfig
from adsim.core.files import nan_for_null, read_json, write_json
from adsim.core.validation import digest
from adsim.core.versions import code_version
from adsim.core.vocab import DOWNSTREAM
from adsim.studies.ab import run_ab
from adsim.runs.arm import resolved
from adsim.studies.replicates import run_replicated_ab
from adsim.reports.aa_report import AAReport
from adsim.studies.arguments import check_aa


def aa_config(cfg: ExperimentConfig, sim: int, other_training_seeds: bool = False) -> ExperimentConfig:
    """Simulation `sim`: the control and its twin (the same provider, its random stream named once for
    both, so their embeddings are identical), on seed + sim; the twin's models trained from other
    seeds when `other_training_seeds`."""
    spec = resolved("control", cfg.arms["control"])
    twin = dataclasses.replace(spec, click_stream=1)
    if other_training_seeds:
        o = spec.overrides
        twin = dataclasses.replace(twin, overrides={**o, "ranker": {**o.get("ranker", {}), "seed": cfg.ranker.seed + 1},
                                                    "relevance": {**o.get("relevance", {}), "seed": cfg.relevance.seed + 1}})
    return dataclasses.replace(cfg, seed=cfg.seed + sim, name=f"{cfg.name}-aa{sim}", arms={"control": spec, "twin": twin})


def sim_key(cfg: ExperimentConfig, sim: int, replicates: int) -> str:
    """What shapes simulation `sim`'s p-values: its config, the replicates, the code."""
    return digest({"config": aa_config(cfg, sim, replicates > 1).hash(), "replicates": replicates,
                   "code": code_version("study")})


def _sim_p_values(cfg: ExperimentConfig, out: Path, sim: int, replicates: int, workers: int) -> dict[str, float]:
    """One simulation's p-value per headline metric (of the click-noise CI, or of the combined CI over
    replicates), read back from `out/p_values.json` when this simulation already ran with these settings."""
    saved, key = out / "p_values.json", sim_key(cfg, sim, replicates)
    previous = read_json(saved) if saved.exists() else {}
    if previous.get("key") == key:
        return nan_for_null(previous["p_values"])
    p_values = _run_sim(cfg, out, sim, replicates, workers)
    write_json({"key": key, "p_values": p_values}, saved)
    return p_values


def _run_sim(cfg: ExperimentConfig, out: Path, sim: int, replicates: int, workers: int) -> dict[str, float]:
    if replicates == 1:
        report = run_ab(aa_config(cfg, sim), out, log=lambda _: None)
        return {m: report.lift[m].p_value for m in DOWNSTREAM}
    report = run_replicated_ab(aa_config(cfg, sim, other_training_seeds=True), out, replicates, workers, log=lambda _: None)
    return {m: report.lifts["twin"][m].combined.p_value for m in DOWNSTREAM}


def aa_study(cfg: ExperimentConfig, out: str | Path, n_sims: int = 20, alpha: float = 0.05,
             log: Callable[[str], None] = print, replicates: int = 1, workers: int = 1) -> AAReport:
    """Run `n_sims` A/A simulations (each with `replicates` replicates, the full pipeline, when > 1);
    the false-positive rate of each headline metric at `alpha`."""
    check_aa(n_sims, alpha, replicates, workers)
    out = Path(out)
    p_values: dict[str, list[float]] = {m: [] for m in DOWNSTREAM}
    for sim in range(n_sims):
        sim_p = _sim_p_values(cfg, out / f"sim{sim:02d}", sim, replicates, workers)
        for m in DOWNSTREAM:
            p_values[m].append(sim_p[m])
        log(f"A/A {sim + 1}/{n_sims}: p-values " + ", ".join(f"{m} {p_values[m][-1]:.3f}" for m in DOWNSTREAM))
    fpr = {m: float(np.mean(np.array(p) < alpha)) for m, p in p_values.items()}
    result = AAReport(n_sims=n_sims, alpha=alpha, false_positive_rate=fpr, p_values=p_values, replicates=replicates)
    write_json(result.to_json(), out / "aa.json")
    return result
