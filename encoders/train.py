"""Three-stage training of the MOON-style encoder, with Lightning.

- pretrain: intra-product alignment. The item as served (a catalogue image with its title) against
  an augmented photo of the same item (another view, crop, light, clutter) and against its title
  alone, and the image alone against the photo and against the title. InfoNCE, in-batch
  negatives, learnable temperature.
- posttrain: behaviour alignment. A past search query (text, photo or both) against the item the
  user clicked (image + title), with in-batch negatives plus hard negatives (same leaf, other
  item) and spatial-temporal negatives (shown in the same session, not clicked). Optional dynamic
  sample filtering down-weights triplets whose positive scores well below a negative.
- application: `export_embeddings` writes frozen item and query embeddings as Parquet.

Every loss is averaged over the Matryoshka prefixes. Each step's batch is a pure function of
(seed, stage, global step), so a stage resumed from its checkpoint continues where it stopped.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import polars as pl
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from torch import nn
from torch.utils.data import DataLoader

from adsim.core import dist
from adsim.core.config import EncoderTrainConfig
from adsim.core.device import lightning_accelerator, torch_device
from adsim.core.files import write_json, write_parquet
from adsim.core.quiet import quiet_libraries
from adsim.core.rng import generator
from adsim.core.torch_rng import TorchStream
from adsim.world.leaf_index import LeafIndex
from adsim.world.view import WorldView
from encoders.clip_dual import ClipDualConfig, ClipDualModel
from encoders.co_augment import enriched_view
from encoders.data import EncoderInputs, InputBuilder, all_item_embeddings, embed, pack, to_pixels
from encoders.moon import MoonConfig, MoonModel
from encoders.tokenizer import load_tokenizer, train_tokenizer
from encoders.trained import load_weights

STAGES = ("pretrain", "posttrain")
BALANCE_WEIGHT = 0.01
FILTER_MARGIN = 0.2   # a positive this far below its best negative is treated as probable noise
FILTER_WEIGHT = 0.2
WARMUP_SHARE = 0.1
INTRA_INPUTS = ("item", "augmented", "title", "image")


def info_nce(q: torch.Tensor, k: torch.Tensor, negatives: torch.Tensor | None = None, *, scale: torch.Tensor,
             weights: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy of each q against its own k among all k in the batch (+ its own negatives)."""
    q, k = nn.functional.normalize(q, dim=-1), nn.functional.normalize(k, dim=-1)
    logits = scale * q @ k.T
    if negatives is not None:
        logits = torch.cat([logits, scale * torch.einsum("bd,bnd->bn", q, nn.functional.normalize(negatives, dim=-1))], 1)
    loss = nn.functional.cross_entropy(logits, torch.arange(len(q), device=q.device), reduction="none")
    return (loss * weights).sum() / weights.sum() if weights is not None else loss.mean()


def matryoshka(loss_fn, dims, *tensors, **kw) -> torch.Tensor:
    """Mean of `loss_fn` over embedding prefixes of each size in `dims`."""
    return torch.stack([loss_fn(*(t[..., :d] if t is not None else None for t in tensors), **kw) for d in dims]).mean()


@dataclass(frozen=True)
class StageData:
    """Builds the batch of a given step for one stage."""

    view: WorldView
    builder: InputBuilder
    cfg: EncoderTrainConfig
    stage: str

    def __post_init__(self):
        # Only items listed by the end of day 0 are trained on: later ones are new to the encoder too.
        listed = self.view.items.listed_day <= 0
        object.__setattr__(self, "listed", np.flatnonzero(listed))
        object.__setattr__(self, "leaf_index", LeafIndex.build(self.view.items, listed))

    def intra_batch(self, rng: np.random.Generator, step: int, size: int) -> dict[str, EncoderInputs]:
        """Intra-product alignment inputs: items as served, their image and title apart, and photos."""
        v = self.view
        ids = rng.choice(self.listed, size=min(size, len(self.listed)), replace=False)
        views = rng.integers(0, 4, len(ids))
        photos = v.camera.item_photos(ids, ids * 1000 + step, self.cfg.seed, stream=f"augment-{self.stage}")
        item = self.builder.items(ids, views)  # its image and title parts are the "image" and "title" inputs
        return {"item": item, "image": EncoderInputs(pixel_values=item.pixel_values),
                "title": EncoderInputs(input_ids=item.input_ids, attention_mask=item.attention_mask),
                "augmented": EncoderInputs(pixel_values=to_pixels(photos))}

    def batch(self, step: int) -> dict[str, EncoderInputs | torch.Tensor]:
        rng = generator(self.cfg.seed, "encoder", self.stage, step)
        b, w = self.cfg.batch_size, self.view
        if self.stage == "pretrain":
            return self.intra_batch(rng, step, b)
        h = w.history
        events = rng.choice(len(h.event_id), size=min(b, len(h.event_id)), replace=False)
        clicked = h.item_id[events]
        n_hard = int(round(self.cfg.n_negatives * self.cfg.hard_negative_share))
        n_st = self.cfg.n_negatives - n_hard
        hard = self.leaf_index.sample(rng, w.items.leaf[clicked], n_hard)
        shown = h.shown[events]
        # Spatial-temporal: items shown in the same session but not clicked (fall back to hard ones).
        key = np.where(shown != clicked[:, None], rng.random(shown.shape), 2.0)
        st = np.take_along_axis(shown, np.argsort(key, 1)[:, :n_st], 1)
        st = np.where(np.take_along_axis(key, np.argsort(key, 1)[:, :n_st], 1) < 2, st,
                      self.leaf_index.sample(rng, w.items.leaf[clicked], n_st))
        negatives = np.concatenate([hard, st], 1)
        out = {"query": self.builder.history(events), "positive": self.builder.items(clicked)}
        if negatives.shape[1]:
            out["negatives"] = self.builder.items(negatives.ravel())
            out["n_negatives"] = torch.tensor(negatives.shape[1])
        if self.cfg.intra_batch > 0:  # MOON2.0: inter- and intra-product alignment trained together
            out |= self.intra_batch(rng, step, self.cfg.intra_batch)
        return out


class EncoderTask(L.LightningModule):
    def __init__(self, model: MoonModel | ClipDualModel, data: StageData, lr: float, steps: int):
        super().__init__()
        self.model, self.data, self.lr, self.steps = model, data, lr, steps

    def _embed_all(self, batch: dict, names: list[str]) -> dict[str, torch.Tensor]:
        """Embed several inputs in ONE forward pass, so batch-norm statistics are shared by every
        modality (separate passes would centre each modality on its own and break cross-modal
        matching at inference)."""
        parts = [batch[n] for n in names]
        packed = pack(parts, self.data.view.image_size).to(self.device)
        out = self.model(**packed.kwargs())
        return dict(zip(names, torch.split(out, [len(p) for p in parts])))

    def training_step(self, _step, _idx):
        # Under DDP every rank draws its own batch of the step (one process: the step's own batch).
        batch = self.data.batch(self.global_step * self.trainer.world_size + self.trainer.global_rank)
        dims = self.model.config.matryoshka_dims
        scale = self.model.log_scale.exp().clamp(max=100)
        intra, inter = "item" in batch, "query" in batch
        names = (list(INTRA_INPUTS) if intra else []) + (["query", "positive"] if inter else []) + (["negatives"] if "negatives" in batch else [])
        e = self._embed_all(batch, names)
        loss = torch.zeros((), device=self.device)
        if intra:
            # The item as served (image + title) against a photo of it and against its title, and the
            # image alone against the photo and against the title: one space for joint, image-only
            # and text-only inputs.
            loss = loss + (matryoshka(info_nce, dims, e["item"], e["augmented"], scale=scale)
                           + matryoshka(info_nce, dims, e["item"], e["title"], scale=scale)
                           + matryoshka(info_nce, dims, e["image"], e["augmented"], scale=scale)
                           + matryoshka(info_nce, dims, e["image"], e["title"], scale=scale))
        if inter:
            q, pos = e["query"], e["positive"]
            neg, weights = None, None
            if "negatives" in batch:
                neg = e["negatives"].reshape(len(q), int(batch["n_negatives"]), -1)
                if self.data.cfg.sample_filtering:
                    with torch.no_grad():
                        qn = nn.functional.normalize(q, dim=-1)
                        margin = (qn * nn.functional.normalize(pos, dim=-1)).sum(-1) - torch.einsum(
                            "bd,bnd->bn", qn, nn.functional.normalize(neg, dim=-1)).max(1).values
                        weights = torch.where(margin < -FILTER_MARGIN, FILTER_WEIGHT, 1.0)
            loss = loss + matryoshka(info_nce, dims, q, pos, neg, scale=scale, weights=weights)
        loss = loss + BALANCE_WEIGHT * self.model.balance_loss()
        self.log("loss", loss, prog_bar=True, on_step=True)
        self.log("temperature", 1 / scale, on_step=True)
        return loss

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.model.parameters(), lr=self.lr, weight_decay=0.01)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: warmup_cosine(step, self.steps))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def warmup_cosine(step: int, steps: int, warmup: float = WARMUP_SHARE, floor: float = 0.1) -> float:
    """Learning-rate multiplier: linear warm-up over the first `warmup` share of steps, then cosine
    decay to `floor`. Warm-up is what lets these small post-norm-free transformers take a larger rate."""
    n_warm = max(1, int(warmup * steps))
    if step < n_warm:
        return (step + 1) / n_warm
    t = min(1.0, (step - n_warm) / max(1, steps - n_warm))
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))


def new_model(view: WorldView, cfg: EncoderTrainConfig, tokenizer, kind: str = "moon") -> MoonModel | ClipDualModel:
    """A fresh encoder of `kind` sized by `cfg` (the CLIP baseline uses the language-model size)."""
    shared = dict(vocab_size=len(tokenizer), image_size=view.image_size, vision=cfg.vision,
                  patch_size=cfg.patch_size, vision_hidden=cfg.vision_hidden, vision_layers=cfg.vision_layers,
                  hidden=cfg.hidden, layers=cfg.layers, heads=cfg.heads, embedding_dim=cfg.embedding_dim,
                  matryoshka_dims=cfg.matryoshka_dims, max_title_tokens=cfg.max_title_tokens,
                  max_query_tokens=cfg.max_query_tokens)
    if kind == "clip":
        return ClipDualModel(ClipDualConfig(**shared))
    return MoonModel(MoonConfig(moe_experts=cfg.moe_experts, fusion=cfg.fusion, residual=cfg.residual, **shared))


def _ranks_strategy() -> dict:
    """Trainer settings: one device, or under torchrun Lightning's DDP over every rank (gradients
    averaged, so a step sees world x batch_size examples; some parameters get no gradient in a stage,
    hence find_unused_parameters)."""
    me = dist.ranks()
    if me.world == 1:
        return {"devices": 1}
    local = int(os.environ.get("LOCAL_WORLD_SIZE", me.world))
    return {"devices": local, "num_nodes": me.world // local, "strategy": "ddp_find_unused_parameters_true"}


def run_stage(model: MoonModel, data: StageData, steps: int, out: Path, progress: bool) -> MoonModel:
    """Train one stage for `steps` steps (resuming from out/checkpoints/<stage>/last.ckpt)."""
    ckpt_dir = out / "checkpoints" / data.stage
    last = ckpt_dir / "last.ckpt"
    model.train()  # a stage loaded with from_pretrained comes back in eval mode (batch norm, dropout)
    task = EncoderTask(model, data, data.cfg.learning_rate, steps)
    loader = DataLoader(range(steps), batch_size=None, shuffle=False)
    with quiet_libraries():  # the progress bar stays; Lightning's start-up messages go
        trainer = L.Trainer(max_steps=steps, max_epochs=-1, accelerator=lightning_accelerator(), **_ranks_strategy(),
                            logger=CSVLogger(out / "logs", name=data.stage), enable_progress_bar=progress,
                            enable_model_summary=False, log_every_n_steps=max(1, steps // 50),
                            callbacks=[ModelCheckpoint(dirpath=ckpt_dir, save_last=True, save_top_k=0,
                                                       every_n_train_steps=max(1, steps // 4))])
        trainer.fit(task, loader, ckpt_path=str(last) if last.exists() else None)
    return task.model


def train_encoder(view: WorldView, cfg: EncoderTrainConfig, out: str | Path, progress: bool = True,
                  stages: tuple[str, ...] = STAGES, kind: str = "moon") -> MoonModel | ClipDualModel:
    """Tokenizer, model, then each stage in order; a finished stage is loaded, not rerun."""
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
        steps = cfg.pretrain_steps if stage == "pretrain" else cfg.posttrain_steps
        if (done / "config.json").exists():
            model = load_weights(type(model), done)
            continue
        if steps > 0:
            with stream:
                model = run_stage(model, StageData(view, builder, cfg, stage), steps, out, progress)
        if main:
            model.save_pretrained(str(done))
        dist.barrier()
    if main:
        model.save_pretrained(str(out / "model"))
        tokenizer.save_pretrained(str(out / "model"))
    dist.barrier()
    return model


def reuse_pretraining(source: Path, folder: Path) -> None:
    """Start `folder` from the tokenizer and finished pretraining stage of `source` (trained with the
    same pretraining settings), so `train_encoder` loads that stage instead of rerunning it."""
    for part in ("tokenizer", "stages/pretrain"):
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
