"""`adsim encoder compare`: train and benchmark encoders side by side on one world.

Rows: the random-projection floor, the pretrained text encoder (all-MiniLM-L6-v2), the CLIP-style
dual encoder, and the MOON-style encoder with pretraining only, post-training only, and both
(the ablation). Each trained row lives in its own folder under DIR, so a rerun reuses finished
training (stages already saved are loaded, not retrained).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from adsim.config import ExperimentConfig
from adsim.io import write_json, write_text
from adsim.world import World, build_world
from encoders.registry import make_provider, provider_metrics
from encoders.train import train_encoder

VARIANTS = {  # name -> (kind, stages) for trained rows
    "clip": ("clip", ("pretrain", "posttrain")),
    "moon_pretrain_only": ("moon", ("pretrain",)),
    "moon_posttrain_only": ("moon", ("posttrain",)),
    "moon": ("moon", ("pretrain", "posttrain")),
}
HEADLINE = ("image_search_recall@10", "text_recall@10", "multimodal_recall@10", "i2i_recall@10",
            "probe_leaf_acc", "probe_colour_acc", "alignment", "uniformity")


def compare(cfg: ExperimentConfig, out: str | Path, log: Callable[[str], None] = print, world: World | None = None) -> dict:
    out = Path(out)
    world = world or build_world(cfg)
    results: dict[str, dict[str, float]] = {}
    for name, args in (("random", {}), ("minilm", {})):
        results[name] = provider_metrics(world, make_provider(name, args, world), seed=cfg.seed)
        log(f"{name}: image_search_recall@10 {results[name]['image_search_recall@10']:.3f}")
    for name, (kind, stages) in VARIANTS.items():
        folder = out / name
        train_encoder(world, cfg.encoder_train, folder, progress=False, stages=stages, kind=kind)
        results[name] = provider_metrics(world, make_provider(kind, {"path": str(folder)}, world), seed=cfg.seed)
        log(f"{name}: image_search_recall@10 {results[name]['image_search_recall@10']:.3f}")
    report = {"config_hash": cfg.hash(), "encoder_train": cfg.to_dict()["encoder_train"], "results": results}
    write_json(report, out / "report.json")
    write_text(markdown(results), out / "report.md")
    return report


def markdown(results: dict[str, dict[str, float]]) -> str:
    lines = ["| encoder | " + " | ".join(HEADLINE) + " |", "| --- |" + " ---: |" * len(HEADLINE)]
    for name, m in results.items():
        lines.append(f"| {name} | " + " | ".join(f"{m[h]:.3f}" if h in m else "–" for h in HEADLINE) + " |")
    return "\n".join(lines) + "\n"
