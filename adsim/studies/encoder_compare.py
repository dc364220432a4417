"""`adsim encoder compare`: train encoders and measure their intermediate metrics side by side on one world.

Rows: the random-projection floor, the pretrained text encoder (all-MiniLM-L6-v2), the CLIP-style
dual encoder, and the MOON-style encoder with pretraining only, post-training only, and both
(the ablation); then one component at a time on top of the full MOON row: MOON2.0's textual
co-augmentation, visual expansion, modality-routed mixture of experts and dynamic sample
filtering, MOON3.0's reasoning with imitation only and with GRPO (and GRPO on the queries'
reasoning too), fusion over the raw per-modality signals and the residual carried through the
decoder; and the compute-matched controls: visual expansion with the photo terms' weight held at
plain MOON's, and GRPO's third stage with its advantages zeroed or with imitation continued in
its place.

With `seeds` S, every trained row is trained S times (encoder_train.seed + 0 .. S - 1); a row's
metrics are the mean over its seeds, and paired differences (same held-out queries or items, same
seed index) carry two sources of noise: the units, by a bootstrap with the same weights for every
row and seed (which also carries how units and seeds interact), and the training seeds, by the
spread of the per-seed differences net of that interaction (`replay_stats.combine`, each with its
own quantile). Trained encoders are cached by everything
that shapes them (`adsim.runs.encoder_cache`) under `encoders` (default DIR/encoders), with their
measurements beside them, so a rerun or another study pointed at the same folder reuses finished
training (and a rerun with more seeds measures only the new ones), and rows that share stages
(the full MOON row and the pretraining-only row, the GRPO rows and the imitation row) train them once.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np

from adsim.core.config import ExperimentConfig
from adsim.core.files import write_json, write_text
from adsim.core.vocab import PROBES, probe_metric, recall_metric
from adsim.studies.arguments import check_compare
from adsim.studies.compare_rows import PAIRS, ROWS
from adsim.runs.encoder_cache import measured_encoder, trained_encoder
from adsim.runs.intermediate import provider_intermediate
from adsim.stats.bootstrap import bootstrap_weights
from adsim.stats.replay_stats import combine, interaction_variance
from adsim.reports.compare_report import CompareReport, RecallDifference, compare_markdown
from adsim.world.build import World, build_world
from encoders.registry import make_provider

TASKS = ("image_search", "text", "multimodal", "i2i")  # the order rows are listed in
K = 10
COMPARED = tuple(recall_metric(t, K) for t in TASKS) + tuple(probe_metric(a) for a in PROBES)
N_BOOT = 2000


def compare(cfg: ExperimentConfig, out: str | Path, log: Callable[[str], None] = print, world: World | None = None,
            seeds: int = 1, encoders: str | Path | None = None, rows: tuple[str, ...] | None = None) -> CompareReport:
    """Measure the floor and MiniLM, train (or load) and measure every trained row under `seeds`
    training seeds (only `rows`, when given), and write report.json and report.md under `out`."""
    check_compare(seeds, rows)
    out = Path(out)
    root = Path(encoders) if encoders else out / "encoders"
    world = world or build_world(cfg)
    units: dict[str, list[dict[str, np.ndarray]]] = {}  # row -> per seed: metric -> per-unit values
    per_seed: dict[str, list[dict[str, float]]] = {}

    def bench(name: str, kind: str, folder: Path | None = None) -> None:
        result = (measured_encoder(world, folder, kind, log) if folder else
                  provider_intermediate(world, make_provider(kind, {}, world), seed=cfg.seed))
        per_seed.setdefault(name, []).append(result.metrics)
        units.setdefault(name, []).append(result.per_unit)
        log(f"{name} (seed {len(per_seed[name]) - 1}): image_search_recall@10 {result.metrics['image_search_recall@10']:.3f}")

    for name in ("random", "minilm"):  # untrained: one measurement stands for every seed
        bench(name, name)
    for r in range(seeds):
        enc = dataclasses.replace(cfg.encoder_train, seed=cfg.encoder_train.seed + r)
        for name, (kind, changes) in ROWS.items():
            if rows is None or name in rows:
                folder = trained_encoder(cfg, world, dataclasses.replace(enc, **changes), root, name, log, kind=kind)
                bench(name, kind, folder)
    results = {n: mean_metrics(v) for n, v in per_seed.items()}
    report = CompareReport(config_hash=cfg.hash(), encoder_train=cfg.to_dict()["encoder_train"], seeds=seeds, results=results,
                           per_seed=per_seed, differences=paired_differences(units, cfg.seed))
    write_json(report.to_json(), out / "report.json")
    write_text(compare_markdown(report, K), out / "report.md")
    return report


def mean_metrics(per_seed: list[dict[str, float]]) -> dict[str, float]:
    """Each metric's mean over the seeds that have it."""
    return {m: float(np.mean([s[m] for s in per_seed if m in s])) for m in per_seed[0]}


def paired_differences(units: dict[str, list[dict[str, np.ndarray]]], seed: int, level: float = 0.95) -> list[RecallDifference]:
    """Differences in recall@10 and probe accuracy for the PAIRS, on every metric both encoders have:
    per seed index, a minus b on the same units; combined over the seeds with the units' bootstrap
    (the same weights for every row and seed) and the seeds' spread. An untrained row's one
    measurement pairs with every seed of the other."""
    rows, weights = [], {}
    for a, b in PAIRS:
        if a not in units or b not in units:
            continue
        n = max(len(units[a]), len(units[b]))
        for metric in COMPARED:
            if metric in units[a][0] and metric in units[b][0]:
                diff = np.stack([np.asarray(units[a][min(r, len(units[a]) - 1)][metric], np.float64)
                                 - np.asarray(units[b][min(r, len(units[b]) - 1)][metric], np.float64) for r in range(n)])
                if diff.shape[1] not in weights:
                    weights[diff.shape[1]] = bootstrap_weights(seed, diff.shape[1], N_BOOT, dtype=np.float64)
                w = weights[diff.shape[1]]
                est = combine(diff.mean(1), (diff @ w.T) / w.sum(1), level, few_seeds=True, interaction=interaction_variance(diff))
                rows.append(RecallDifference(a=a, b=b, metric=metric, difference=est.value, ci_low=est.ci_low,
                                             ci_high=est.ci_high, se=est.se, per_seed=[float(d) for d in diff.mean(1)]))
    return rows
