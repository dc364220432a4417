"""`adsim encoder compare`: train and benchmark encoders side by side on one world.

Rows: the random-projection floor, the pretrained text encoder (all-MiniLM-L6-v2), the CLIP-style
dual encoder, and the MOON-style encoder with pretraining only, post-training only, and both
(the ablation), then paired differences of recall@10 between rows, with bootstrap CIs over the
same held-out queries. Each trained row lives in its own folder under DIR, so a rerun reuses finished
training (stages already saved are loaded, not retrained); the full MOON row starts from the
pretraining-only row's finished pretraining.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from adsim.core.config import ExperimentConfig
from adsim.core.files import write_json, write_text
from adsim.world.build import World, build_world
from encoders.benchmark import recall_difference
from encoders.registry import make_provider, provider_benchmark
from encoders.train import reuse_pretraining, train_encoder

VARIANTS = {  # name -> (kind, stages) for trained rows
    "clip": ("clip", ("pretrain", "posttrain")),
    "moon_pretrain_only": ("moon", ("pretrain",)),
    "moon_posttrain_only": ("moon", ("posttrain",)),
    "moon": ("moon", ("pretrain", "posttrain")),
}
PRETRAINED_FROM = {"moon": "moon_pretrain_only"}  # same settings: its finished pretraining is reused
HEADLINE = ("image_search_recall@10", "text_recall@10", "multimodal_recall@10", "i2i_recall@10",
            "probe_leaf_acc", "probe_colour_acc", "alignment", "uniformity")


PAIRS = (("moon", "clip"), ("moon", "random"), ("clip", "random"), ("moon", "moon_pretrain_only"),
         ("moon", "moon_posttrain_only"))
TASKS = ("image_search", "text", "multimodal", "i2i")
K = 10


def compare(cfg: ExperimentConfig, out: str | Path, log: Callable[[str], None] = print, world: World | None = None) -> dict:
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
    for name, (kind, stages) in VARIANTS.items():
        folder = out / name
        if name in PRETRAINED_FROM:
            reuse_pretraining(out / PRETRAINED_FROM[name], folder)
        train_encoder(world, cfg.encoder_train, folder, progress=False, stages=stages, kind=kind)
        bench(name, kind, {"path": str(folder)})
    differences = paired_differences(hits, cfg.seed)
    report = {"config_hash": cfg.hash(), "encoder_train": cfg.to_dict()["encoder_train"], "results": results,
              "differences": differences}
    write_json(report, out / "report.json")
    write_text(markdown(results, differences), out / "report.md")
    return report


def paired_differences(hits: dict[str, dict], seed: int) -> list[dict]:
    """recall@10 differences for the PAIRS on every task both encoders have, with paired CIs."""
    rows = []
    for a, b in PAIRS:
        for task in TASKS:
            if task in hits.get(a, {}) and task in hits.get(b, {}):
                diff, lo, hi = recall_difference(hits[a][task], hits[b][task], K, seed)
                rows.append({"a": a, "b": b, "metric": f"{task}_recall@{K}", "difference": diff, "ci_low": lo, "ci_high": hi})
    return rows


def markdown(results: dict[str, dict[str, float]], differences: list[dict]) -> str:
    lines = ["| encoder | " + " | ".join(HEADLINE) + " |", "| --- |" + " ---: |" * len(HEADLINE)]
    for name, m in results.items():
        lines.append(f"| {name} | " + " | ".join(f"{m[h]:.3f}" if h in m else "–" for h in HEADLINE) + " |")
    lines += ["", f"Paired differences in recall@{K} (same held-out queries; 95 % bootstrap CI over queries):", "",
              "| a − b | metric | difference | 95 % CI |", "| --- | --- | ---: | --- |"]
    for d in differences:
        lines.append(f"| {d['a']} − {d['b']} | {d['metric']} | {d['difference']:+.3f} | [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}] |")
    return "\n".join(lines) + "\n"
