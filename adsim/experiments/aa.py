"""A/A checks: do the A/B statistics report "no difference" at the stated rate when there is none?

Each simulation is a whole A/B run on its own seed (own world, traffic and day-0 logs) with two
identical arms. Identical arms on the same click stream would give exactly zero lift (common
random numbers), which checks nothing; so the second arm's users click from an independent
stream (`click_stream = 1`): the arms differ only by outcome noise, as two buckets of one system
do online. A calibrated 95 % CI then excludes zero in about 5 % of simulations.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np

from adsim.core.config import ExperimentConfig
from adsim.core.files import write_json
from adsim.core.vocab import DOWNSTREAM
from adsim.experiments.ab import run_ab
from adsim.experiments.arm import resolved
from adsim.reports.aa_report import AAReport


def aa_config(cfg: ExperimentConfig, sim: int) -> ExperimentConfig:
    """Simulation `sim`: the control and its twin (the same provider, its random stream named once for
    both, so their embeddings are identical), on seed + sim."""
    spec = resolved("control", cfg.arms["control"])
    return dataclasses.replace(cfg, seed=cfg.seed + sim, name=f"{cfg.name}-aa{sim}",
                               arms={"control": spec, "twin": dataclasses.replace(spec, click_stream=1)})


def aa_study(cfg: ExperimentConfig, out: str | Path, n_sims: int = 20, alpha: float = 0.05,
             log: Callable[[str], None] = print) -> AAReport:
    """Run `n_sims` A/A simulations; the false-positive rate of each headline metric at `alpha`."""
    out = Path(out)
    p_values: dict[str, list[float]] = {m: [] for m in DOWNSTREAM}
    for sim in range(n_sims):
        report = run_ab(aa_config(cfg, sim), out / f"sim{sim:02d}", log=lambda _: None)
        for m in DOWNSTREAM:
            p_values[m].append(report.lift[m].p_value)
        log(f"A/A {sim + 1}/{n_sims}: p-values " + ", ".join(f"{m} {p_values[m][-1]:.3f}" for m in DOWNSTREAM))
    fpr = {m: float(np.mean(np.array(p) < alpha)) for m, p in p_values.items()}
    result = AAReport(n_sims=n_sims, alpha=alpha, false_positive_rate=fpr, p_values=p_values)
    write_json(result.to_json(), out / "aa.json")
    return result
