"""Staged training of the MOON-style encoder, with Lightning (the losses are in encoders.training.task,
the batches in encoders.training.stage_data).

- pretrain: intra-product alignment. The item as served (a catalogue image with its title) against
  an augmented photo of the same item (another view, crop, light, clutter) and against its title
  alone, and the image alone against the photo and against the title. InfoNCE, in-batch
  negatives, learnable temperature. `visual_expansion` adds more photos per item (MOON2.0).
- posttrain: behaviour alignment. A past search query (text, photo or both) against the item the
  user clicked (image + title), with in-batch negatives plus hard negatives (same leaf, other
  item) and spatial-temporal negatives (shown in the same session, not clicked). Optional dynamic
  sample filtering down-weights triplets whose positive scores well below a negative.
- grpo (reasoning = "grpo"): the reasoning head's sequences sampled and rewarded by retrieval,
  against a frozen copy of the imitation policy, jointly with post-training's contrastive loss
  (MOON3.0; encoders.reasoning.train). With reasoning on, the earlier stages add imitation.
- application: `export_embeddings` writes frozen item and query embeddings as Parquet.

Every loss is averaged over the Matryoshka prefixes.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import warnings
from pathlib import Path

import lightning as L
import numpy as np
import polars as pl
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader

from adsim.core.runtime import dist
from adsim.core.runtime.interrupt import fit_lightning
from adsim.core.config import EncoderTrainConfig
from adsim.core.runtime.device import lightning_accelerator, torch_device
from adsim.core.errors import ConfigError
from adsim.core.files import write_json, write_parquet
from adsim.core.runtime.quiet import quiet_libraries
from adsim.core.torch_rng import TorchStream
from adsim.world.view import WorldView
from encoders.nets.clip_dual import ClipDualConfig, ClipDualModel
from encoders.training.co_augment import enriched_view
from encoders.nets.data import InputBuilder, all_item_embeddings, embed
from encoders.nets.moon import MoonConfig, MoonModel
from encoders.reasoning.head import slot_sizes
from encoders.training.stage_data import StageData
from encoders.training.task import EncoderTask
from encoders.nets.tokenizer import load_tokenizer, train_tokenizer
from encoders.trained import load_weights

STAGES = ("pretrain", "posttrain", "grpo")  # grpo runs only when encoder_train.reasoning = "grpo"
SNAPSHOTS = "snapshots"


def new_model(view: WorldView, cfg: EncoderTrainConfig, tokenizer, kind: str = "moon") -> MoonModel | ClipDualModel:
    """A fresh encoder of `kind` sized by `cfg` (the CLIP baseline uses the language-model size)."""
    shared = dict(vocab_size=len(tokenizer), image_size=view.image_size, vision=cfg.vision,
                  patch_size=cfg.patch_size, vision_hidden=cfg.vision_hidden, vision_layers=cfg.vision_layers,
                  hidden=cfg.hidden, layers=cfg.layers, heads=cfg.heads, embedding_dim=cfg.embedding_dim,
                  matryoshka_dims=cfg.matryoshka_dims, max_title_tokens=cfg.max_title_tokens,
                  max_query_tokens=cfg.max_query_tokens)
    if kind == "clip":
        return ClipDualModel(ClipDualConfig(**shared))
    slots = []
    if cfg.reasoning != "off":
        if not hasattr(view.items, "brand"):
            raise ConfigError("encoder_train.reasoning: needs a catalogue with declared categories and brands (a world's)")
        slots = slot_sizes(int(view.items.brand.max()) + 1)
    return MoonModel(MoonConfig(moe_experts=cfg.moe_experts, fusion=cfg.fusion, residual=cfg.residual,
                                reasoning_slots=slots, fusion_inputs=cfg.fusion_inputs, residual_depth=cfg.residual_depth,
                                **shared))


def _ranks_strategy() -> dict:
    """Trainer settings: one device, or under torchrun Lightning's DDP over every rank (gradients
    averaged, so a step sees world x batch_size examples; some parameters get no gradient in a stage,
    hence find_unused_parameters)."""
    me = dist.ranks()
    if me.world == 1:
        return {"devices": 1}
    local = int(os.environ.get("LOCAL_WORLD_SIZE", me.world))
    return {"devices": local, "num_nodes": me.world // local, "strategy": "ddp_find_unused_parameters_true"}


class Snapshots(L.Callback):
    """Saves the encoder every `every` steps of a stage (and as it starts) as a loadable model folder,
    out/snapshots/step<NNNNN>: checkpoints along one training run, each a variant a sweep can serve."""

    def __init__(self, out: Path, every: int, tokenizer_dir: Path):
        self.out, self.every, self.tokenizer_dir = out / SNAPSHOTS, every, tokenizer_dir

    def _save(self, model, step: int) -> None:
        folder = self.out / f"step{step:05d}"
        if dist.ranks().main and not (folder / "config.json").exists():
            model.save_pretrained(str(folder))
            shutil.copytree(self.tokenizer_dir, folder, dirs_exist_ok=True)

    def on_train_start(self, trainer, task) -> None:
        if trainer.global_step == 0:
            self._save(task.model, 0)

    def on_train_batch_end(self, trainer, task, *args) -> None:
        if trainer.global_step % self.every == 0:
            self._save(task.model, trainer.global_step)


def snapshot_folders(out: str | Path) -> dict[int, Path]:
    """Step -> model folder of the snapshots a training run saved (`Snapshots`)."""
    return {int(p.name[4:]): p for p in sorted(Path(out, SNAPSHOTS).glob("step*")) if (p / "config.json").exists()}


def run_stage(model: MoonModel, data: StageData, steps: int, out: Path, progress: bool,
              callbacks: tuple[L.Callback, ...] = ()) -> MoonModel:
    """Train one stage for `steps` steps (resuming from out/checkpoints/<stage>/last.ckpt)."""
    ckpt_dir = out / "checkpoints" / data.stage
    last = ckpt_dir / "last.ckpt"
    model.train()  # a stage loaded with from_pretrained comes back in eval mode (batch norm, dropout)
    # GRPO's KL reference: the model as the stage begins (the imitation policy), frozen; it is part
    # of the task's checkpoint, so a resumed stage keeps the same reference.
    reference = frozen_copy(model) if data.stage == "grpo" else None
    task = EncoderTask(model, data, data.cfg.learning_rate, steps, reference)
    loader = DataLoader(range(steps), batch_size=None, shuffle=False)
    with quiet_libraries(), warnings.catch_warnings():  # the progress bar stays; Lightning's start-up messages go
        # A stage resumed mid-way restarts the loader, which Lightning warns of; the task draws each
        # batch from the global step, not from the loader, so the resumed stage is exact (tested).
        warnings.filterwarnings("ignore", message=".*resuming from a checkpoint that ended before the epoch ended.*")
        fit_lightning(L.Trainer(max_steps=steps, max_epochs=-1, accelerator=lightning_accelerator(), **_ranks_strategy(),
                                logger=CSVLogger(out / "logs", name=data.stage), enable_progress_bar=progress,
                                enable_model_summary=False, log_every_n_steps=max(1, steps // 50),
                                callbacks=[ModelCheckpoint(dirpath=ckpt_dir, save_last=True, save_top_k=0,
                                                           every_n_train_steps=max(1, steps // 4)), *callbacks]),
                      task, loader, ckpt_path=str(last) if last.exists() else None)
    return task.model


def frozen_copy(model: MoonModel) -> MoonModel:
    """A frozen copy of `model`'s weights (GRPO's KL reference), built anew and loaded rather than
    deep-copied, so no state a forward pass left behind (an MoE layer's last balance loss) travels
    with it; the global random stream is left as it was."""
    with torch.random.fork_rng(devices=[]):
        twin = type(model)(model.config)
    twin.load_state_dict(model.state_dict())
    return twin.to(next(model.parameters()).device).train(model.training).requires_grad_(False)


def train_encoder(view: WorldView, cfg: EncoderTrainConfig, out: str | Path, progress: bool = True,
                  stages: tuple[str, ...] = STAGES, kind: str = "moon", snapshot_every: int = 0) -> MoonModel | ClipDualModel:
    """Tokenizer, model, then each stage in order; a finished stage is loaded, not rerun.
    `snapshot_every` > 0 saves the model every that many post-training steps (`Snapshots`)."""
    out = Path(out)
    tok_dir = out / "tokenizer"
    main = dist.ranks().main  # under torchrun, rank 0 writes and the others read after a barrier
    if cfg.co_augmentation:  # MOON2.0: titles enriched with what their images show, for training only
        view, enrichment = enriched_view(view, cfg.co_augmentation_threshold, cfg.seed)
        if main:
            write_json(dataclasses.asdict(enrichment), out / "co_augmentation.json")
    if main and not (tok_dir / "tokenizer.json").exists():
        texts = np.concatenate([view.items.title[view.items.listed_day <= 0], view.history.query_text])
        train_tokenizer(texts, cfg.vocab_size).save_pretrained(str(tok_dir))
    dist.barrier()
    tokenizer = load_tokenizer(tok_dir)
    builder = InputBuilder(view, tokenizer, cfg.max_title_tokens, cfg.max_query_tokens)
    stream = TorchStream(cfg.seed)  # initialisation and any training randomness draw from this stream only
    with stream:
        model = new_model(view, cfg, tokenizer, kind)
    for stage in stages:
        done = out / "stages" / stage
        steps = stage_steps(cfg, stage)
        if stage == "grpo" and steps == 0:
            continue
        if (done / "config.json").exists():
            model = load_weights(type(model), done)
            continue
        if steps > 0:
            snap = (Snapshots(out, snapshot_every, tok_dir),) if snapshot_every > 0 and stage == "posttrain" else ()
            with stream:
                model = run_stage(model, StageData(view, builder, cfg, stage), steps, out, progress, snap)
        if main:
            with quiet_libraries():
                model.save_pretrained(str(done))
        dist.barrier()
    if main:
        with quiet_libraries():
            model.save_pretrained(str(out / "model"))
            tokenizer.save_pretrained(str(out / "model"))
    dist.barrier()
    return model


def stage_steps(cfg: EncoderTrainConfig, stage: str) -> int:
    """Steps of `stage` under `cfg` (grpo: only when reasoning is "grpo")."""
    if stage == "grpo":
        return cfg.grpo_steps if cfg.reasoning == "grpo" else 0
    return cfg.pretrain_steps if stage == "pretrain" else cfg.posttrain_steps


def reuse_pretraining(source: Path, folder: Path, stages: tuple[str, ...] = ("pretrain",)) -> None:
    """Start `folder` from the tokenizer and finished `stages` of `source` (trained with the same
    settings for them), so `train_encoder` loads those stages instead of rerunning them."""
    for part in ("tokenizer",) + tuple(f"stages/{s}" for s in stages):
        shutil.copytree(source / part, folder / part, dirs_exist_ok=True)


def export_embeddings(model: MoonModel, builder: InputBuilder, out: str | Path, batch: int = 512) -> dict[str, Path]:
    """Application stage: frozen item and query embeddings as Parquet (ids + float32 arrays)."""
    out = Path(out)
    w = builder.view
    dev = torch_device()
    model = model.to(dev)
    n_req = len(w.requests.request_id)
    items = all_item_embeddings(model, builder, dev, batch)
    queries = embed(model, (builder.requests(np.arange(s, min(s + batch, n_req))) for s in range(0, n_req, batch)), dev)
    paths = {"items": out / "item_embeddings.parquet", "queries": out / "query_embeddings.parquet"}
    write_parquet(pl.DataFrame({"item_id": w.items.item_id, "embedding": items}), paths["items"])
    write_parquet(pl.DataFrame({"request_id": w.requests.request_id, "embedding": queries}), paths["queries"])
    write_json({"items": len(items), "queries": len(queries), "dim": int(items.shape[1])}, out / "embeddings.json")
    return paths
