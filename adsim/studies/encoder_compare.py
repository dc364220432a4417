"""`adsim encoder compare`: train encoders and measure their intermediate metrics side by side on one world.

Rows: the random-projection floor, the pretrained text encoder (all-MiniLM-L6-v2), the CLIP-style
dual encoder, and the MOON-style encoder with pretraining only, post-training only, and both
(the ablation); then one component at a time on top of the full MOON row: MOON2.0's textual
co-augmentation and visual expansion, MOON3.0's reasoning with imitation only and with GRPO.
Paired differences between rows, of recall@10 (bootstrap CIs over the same held-out queries) and
of the fine-grained probes' accuracy (over the same held-out items). Each trained row lives in its
own folder under DIR, so a rerun reuses finished training (stages already saved are loaded, not
retrained); the full MOON row starts from the pretraining-only row's finished pretraining, and the
GRPO row from the imitation row's finished pretraining and post-training.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np

from adsim.core.config import ExperimentConfig
from adsim.core.files import write_json, write_text
from adsim.core.vocab import PROBES, probe_metric, recall_metric
from adsim.runs.intermediate import provider_intermediate
from adsim.stats.bootstrap import bootstrap_weights
from adsim.stats.lifts import RatioMetric, paired_lift
from adsim.reports.compare_report import CompareReport, RecallDifference, compare_markdown
from adsim.world.build import World, build_world
from encoders.registry import make_provider
from encoders.training.train import reuse_pretraining, train_encoder

VARIANTS = {  # name -> (kind, stages, encoder_train overrides) for trained rows
    "clip": ("clip", ("pretrain", "posttrain"), {}),
    "moon_pretrain_only": ("moon", ("pretrain",), {}),
    "moon_posttrain_only": ("moon", ("posttrain",), {}),
    "moon": ("moon", ("pretrain", "posttrain"), {}),
    "moon_co_augmented": ("moon", ("pretrain", "posttrain"), {"co_augmentation": True}),  # MOON2.0 (its own pretraining)
    "moon_visual_expansion": ("moon", ("pretrain", "posttrain"), {"visual_expansion": 2}),  # MOON2.0
    "moon_reasoning_imitation": ("moon", ("pretrain", "posttrain"), {"reasoning": "imitation"}),  # MOON3.0
    "moon_reasoning_grpo": ("moon", ("pretrain", "posttrain", "grpo"), {"reasoning": "grpo"}),
}
# A row whose first stages have the same settings as another's starts from that row's finished stages.
REUSED = {"moon": ("moon_pretrain_only", ("pretrain",)),
          "moon_reasoning_grpo": ("moon_reasoning_imitation", ("pretrain", "posttrain"))}
PAIRS = (("moon", "clip"), ("moon", "random"), ("clip", "random"), ("moon", "moon_pretrain_only"),
         ("moon", "moon_posttrain_only"), ("moon_co_augmented", "moon"), ("moon_visual_expansion", "moon"),
         ("moon_reasoning_imitation", "moon"), ("moon_reasoning_grpo", "moon"),
         ("moon_reasoning_grpo", "moon_reasoning_imitation"))
TASKS = ("image_search", "text", "multimodal", "i2i")  # the order rows are listed in
K = 10
COMPARED = tuple(recall_metric(t, K) for t in TASKS) + tuple(probe_metric(a) for a in PROBES)


def recall_difference(hits_a: np.ndarray, hits_b: np.ndarray, k: int, seed: int, n_boot: int = 2000,
                      level: float = 0.95) -> tuple[float, float, float]:
    """recall@k of a minus that of b on the same queries, with a paired bootstrap CI over queries."""
    return unit_difference(hits_a[:, :k].any(1), hits_b[:, :k].any(1), seed, n_boot, level)


def unit_difference(a: np.ndarray, b: np.ndarray, seed: int, n_boot: int = 2000,
                    level: float = 0.95) -> tuple[float, float, float]:
    """Mean of a minus mean of b over the same units (queries, held-out items), with a paired
    bootstrap CI over the units (the A/B statistics' paired lift, with units in place of users)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ones = np.ones_like(a)
    lift = paired_lift(RatioMetric(b, ones), RatioMetric(a, ones), bootstrap_weights(seed, len(a), n_boot), level)
    return lift.absolute, lift.abs_ci_low, lift.abs_ci_high


def compare(cfg: ExperimentConfig, out: str | Path, log: Callable[[str], None] = print,
            world: World | None = None) -> CompareReport:
    """Measure the floor and MiniLM, train and measure CLIP and the MOON ablation rows, and
    write report.json and report.md under `out`."""
    out = Path(out)
    world = world or build_world(cfg)
    results: dict[str, dict[str, float]] = {}
    units: dict[str, dict[str, np.ndarray]] = {}

    def bench(name: str, kind: str, args: dict) -> None:
        result = provider_intermediate(world, make_provider(kind, args, world), seed=cfg.seed)
        results[name], units[name] = result.metrics, result.per_unit
        log(f"{name}: image_search_recall@10 {result.metrics['image_search_recall@10']:.3f}")

    for name in ("random", "minilm"):
        bench(name, name, {})
    for name, (kind, stages, overrides) in VARIANTS.items():
        folder = out / name
        if name in REUSED:
            source, reused = REUSED[name]
            reuse_pretraining(out / source, folder, reused)
        train_encoder(world.view, dataclasses.replace(cfg.encoder_train, **overrides), folder, progress=False, stages=stages,
                      kind=kind)
        bench(name, kind, {"path": str(folder)})
    differences = paired_differences(units, cfg.seed)
    report = CompareReport(config_hash=cfg.hash(), encoder_train=cfg.to_dict()["encoder_train"], results=results,
                           differences=differences)
    write_json(report.to_json(), out / "report.json")
    write_text(compare_markdown(report, K), out / "report.md")
    return report


def paired_differences(units: dict[str, dict[str, np.ndarray]], seed: int) -> list[RecallDifference]:
    """Differences in recall@10 and probe accuracy for the PAIRS, on every metric both encoders have,
    with paired CIs over the same queries or held-out items."""
    rows = []
    for a, b in PAIRS:
        for metric in COMPARED:
            if metric in units.get(a, {}) and metric in units.get(b, {}):
                diff, lo, hi = unit_difference(units[a][metric], units[b][metric], seed)
                rows.append(RecallDifference(a=a, b=b, metric=metric, difference=diff, ci_low=lo, ci_high=hi))
    return rows
