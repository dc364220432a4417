"""`adsim encoder compare`: train and benchmark encoders side by side on one world.

Rows: the random-projection floor, the pretrained text encoder (all-MiniLM-L6-v2), the CLIP-style
dual encoder, and the MOON-style encoder with pretraining only, post-training only, and both
(the ablation) and with MOON2.0's co-augmentation, then paired differences of recall@10 between rows, with bootstrap CIs over the
same held-out queries. Each trained row lives in its own folder under DIR, so a rerun reuses finished
training (stages already saved are loaded, not retrained); the full MOON row starts from the
pretraining-only row's finished pretraining.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np

from adsim.core.config import ExperimentConfig
from adsim.core.files import write_json, write_text
from adsim.core.vocab import recall_metric
from adsim.experiments.intermediate import provider_benchmark
from adsim.experiments.stats import RatioMetric, bootstrap_weights, paired_lift
from adsim.reports.compare_report import CompareReport, RecallDifference, compare_markdown
from adsim.world.build import World, build_world
from encoders.registry import make_provider
from encoders.train import reuse_pretraining, train_encoder

VARIANTS = {  # name -> (kind, stages, encoder_train overrides) for trained rows
    "clip": ("clip", ("pretrain", "posttrain"), {}),
    "moon_pretrain_only": ("moon", ("pretrain",), {}),
    "moon_posttrain_only": ("moon", ("posttrain",), {}),
    "moon": ("moon", ("pretrain", "posttrain"), {}),
    "moon_co_augmented": ("moon", ("pretrain", "posttrain"), {"co_augmentation": True}),  # MOON2.0 (its own pretraining)
}
PRETRAINED_FROM = {"moon": "moon_pretrain_only"}  # same settings: its finished pretraining is reused
PAIRS = (("moon", "clip"), ("moon", "random"), ("clip", "random"), ("moon", "moon_pretrain_only"),
         ("moon", "moon_posttrain_only"), ("moon_co_augmented", "moon"))
TASKS = ("image_search", "text", "multimodal", "i2i")  # the order rows are listed in
K = 10


def recall_difference(hits_a: np.ndarray, hits_b: np.ndarray, k: int, seed: int, n_boot: int = 2000,
                      level: float = 0.95) -> tuple[float, float, float]:
    """recall@k of a minus that of b on the same queries, with a paired bootstrap CI over queries
    (the A/B statistics' paired lift, with queries in place of users)."""
    a, b = (h[:, :k].any(1).astype(np.float64) for h in (hits_a, hits_b))
    ones = np.ones_like(a)
    lift = paired_lift(RatioMetric(b, ones), RatioMetric(a, ones), bootstrap_weights(seed, len(a), n_boot), level)
    return lift.absolute, lift.abs_ci_low, lift.abs_ci_high


def compare(cfg: ExperimentConfig, out: str | Path, log: Callable[[str], None] = print,
            world: World | None = None) -> CompareReport:
    """Benchmark the floor and MiniLM, train and benchmark CLIP and the MOON ablation rows, and
    write report.json and report.md under `out`."""
    out = Path(out)
    world = world or build_world(cfg)
    results: dict[str, dict[str, float]] = {}
    hits: dict[str, dict] = {}

    def bench(name: str, kind: str, args: dict) -> None:
        result = provider_benchmark(world, make_provider(kind, args, world), seed=cfg.seed)
        results[name], hits[name] = result.metrics, result.hits
        log(f"{name}: image_search_recall@10 {result.metrics['image_search_recall@10']:.3f}")

    for name in ("random", "minilm"):
        bench(name, name, {})
    for name, (kind, stages, overrides) in VARIANTS.items():
        folder = out / name
        if name in PRETRAINED_FROM:
            reuse_pretraining(out / PRETRAINED_FROM[name], folder)
        train_encoder(world.view, dataclasses.replace(cfg.encoder_train, **overrides), folder, progress=False, stages=stages,
                      kind=kind)
        bench(name, kind, {"path": str(folder)})
    differences = paired_differences(hits, cfg.seed)
    report = CompareReport(config_hash=cfg.hash(), encoder_train=cfg.to_dict()["encoder_train"], results=results,
                           differences=differences)
    write_json(report.to_json(), out / "report.json")
    write_text(compare_markdown(report, K), out / "report.md")
    return report


def paired_differences(hits: dict[str, dict], seed: int) -> list[RecallDifference]:
    """recall@10 differences for the PAIRS on every task both encoders have, with paired CIs."""
    rows = []
    for a, b in PAIRS:
        for task in TASKS:
            if task in hits.get(a, {}) and task in hits.get(b, {}):
                diff, lo, hi = recall_difference(hits[a][task], hits[b][task], K, seed)
                rows.append(RecallDifference(a=a, b=b, metric=recall_metric(task, K), difference=diff, ci_low=lo, ci_high=hi))
    return rows
