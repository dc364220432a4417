"""The Lightning module that trains the MOON-style encoder (and the CLIP baseline) one stage at a
time: contrastive losses over one shared forward pass, plus MOON3.0's reasoning terms (imitation,
or GRPO against a frozen copy of the imitation policy) when the model reasons."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import torch
from torch import nn

from adsim.core.rng import generator
from encoders.nets.data import pack
from encoders.training.losses import info_nce, matryoshka, warmup_cosine
from encoders.reasoning.head import decode_tokens
from encoders.reasoning.train import grpo_terms, imitation, reasoned_pass, reference_log_probs
from encoders.training.stage_data import INTRA_INPUTS, StageData

BALANCE_WEIGHT = 0.01
FILTER_MARGIN = 0.2   # a positive this far below its best negative is treated as probable noise
FILTER_WEIGHT = 0.2
SAMPLE_LOGS = 10      # GRPO stages log one product's sampled group this many times


class EncoderTask(L.LightningModule):
    def __init__(self, model, data: StageData, lr: float, steps: int, reference=None):
        super().__init__()
        self.model, self.data, self.lr, self.steps = model, data, lr, steps
        self.reference = reference  # GRPO: the imitation policy the KL penalty holds the model near

    def _embed_all(self, batch: dict, names: list[str], step: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Embed several inputs in ONE forward pass, so batch-norm statistics are shared by every
        modality (separate passes would centre each modality on its own and break cross-modal
        matching at inference); with reasoning, also the reasoning loss of that pass."""
        parts = [batch[n] for n in names]
        packed = pack(parts, self.data.view.image_size).to(self.device)
        sizes = [len(p) for p in parts]
        if not getattr(self.model.config, "reasoning_slots", None):
            return dict(zip(names, torch.split(self.model(**packed.kwargs()), sizes))), torch.zeros((), device=self.device)
        cfg = self.data.cfg
        targets = self.data.row_targets(batch, names).to(self.device)
        grpo = self.data.stage == "grpo" and cfg.grpo_control != "imitation"  # the imitation control: post-training's pass
        start = dict(zip(names, torch.cumsum(torch.tensor([0] + sizes), 0).tolist()))
        rows = torch.arange(start["positive"], start["positive"] + len(batch["positive"]), device=self.device) if grpo else None
        query_rows = self._reasoning_queries(packed, start["query"], len(batch["query"])) if grpo and cfg.grpo_queries else None
        if query_rows is not None:
            rows = torch.cat([rows, start["query"] + query_rows])
        seed = int(generator(cfg.seed, "grpo-samples", step).integers(2 ** 62))
        r = reasoned_pass(self.model, packed, targets, rows, cfg.grpo_group if grpo else 0, seed, force=not grpo)
        e = dict(zip(names, torch.split(r.embeddings, sizes)))
        if not grpo:
            nll, accuracy = imitation(self.model, r, targets)
            self.log("imitation_loss", nll, on_step=True)
            self.log("reasoning_accuracy", accuracy, on_step=True)
            return e, cfg.reasoning_weight * nll
        neg = e["negatives"].reshape(len(e["query"]), int(batch["n_negatives"]), -1) if "negatives" in e else None
        g = grpo_terms(self.model, r, reference_log_probs(self.reference, packed, r), e["query"], e["positive"], neg,
                       self._scale(), cfg.grpo_group, cfg.grpo_kl, "zero" if cfg.grpo_control == "zero-advantage" else "group",
                       query_rows)
        self.log("reward", g.reward, prog_bar=True, on_step=True)
        if g.query_reward is not None:
            self.log("query_reward", g.query_reward, on_step=True)
        self.log("kl", g.kl, on_step=True)
        self._log_samples(r, cfg.grpo_group)
        return e, g.loss

    def _reasoning_queries(self, packed, first: int, n: int) -> torch.Tensor:
        """(Q,) the queries (0..n-1) whose embedding reads their reasoning: those with a photo, and
        with text too unless the residual runs through the decoder (a lone photo otherwise takes the
        vision path alone, and its samples would all score the same)."""
        image = packed.image_mask[first:first + n] if packed.image_mask is not None else torch.zeros(n, dtype=torch.bool)
        text = packed.attention_mask[first:first + n].sum(1) > 0 if packed.attention_mask is not None else torch.zeros_like(image)
        c = self.model.config
        lone_photos_read = not c.residual or c.residual_depth == "layers"
        return (image.bool() & (text | lone_photos_read)).nonzero()[:, 0].to(self.device)

    def _log_samples(self, r, group: int) -> None:
        """One product's sampled reasoning group, now and then, to the stage's log folder."""
        every = max(1, self.steps // SAMPLE_LOGS)
        if self.global_step % every or self.trainer.global_rank or self.logger is None:
            return
        n = len(r.embeddings)
        line = {"step": int(self.global_step), "sequences": decode_tokens(r.tokens[n:n + group].cpu().numpy())}
        path = Path(self.logger.log_dir) / "reasoning_samples.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as f:
            f.write(json.dumps(line) + "\n")

    def _scale(self) -> torch.Tensor:
        return self.model.log_scale.exp().clamp(max=100)

    def training_step(self, _step, _idx):
        # Under DDP every rank draws its own batch of the step (one process: the step's own batch).
        step = self.global_step * self.trainer.world_size + self.trainer.global_rank
        batch = self.data.batch(step)
        dims, scale = self.model.config.matryoshka_dims, self._scale()
        intra, inter = "item" in batch, "query" in batch
        names = ((list(INTRA_INPUTS) + (["expanded"] if "expanded" in batch else [])) if intra else []) + (
            ["query", "positive"] if inter else []) + (["negatives"] if "negatives" in batch else [])
        e, loss = self._embed_all(batch, names, step)
        if intra:
            loss = loss + self._intra_loss(e, dims, scale)
        if inter:
            loss = loss + self._inter_loss(e, batch, dims, scale)
        loss = loss + BALANCE_WEIGHT * self.model.balance_loss()
        self.log("loss", loss, prog_bar=True, on_step=True)
        self.log("temperature", 1 / scale, on_step=True)
        return loss

    def _intra_loss(self, e: dict, dims, scale) -> torch.Tensor:
        """The item as served (image + title) against a photo of it and against its title, and the
        image alone against the photo and against the title: one space for joint, image-only and
        text-only inputs. Visual expansion's k extra photos add the photo terms again at weight 1/k
        each (so photos weigh twice the title), or, with `visual_expansion_photos = "held"` (its
        control), share the photo terms' weight with the first photo (photos weigh as without)."""
        return intra_loss(e, dims, scale, self.data.cfg.visual_expansion_photos)

    def _inter_loss(self, e: dict, batch: dict, dims, scale) -> torch.Tensor:
        """A past query against the item clicked, with in-batch and own negatives; dynamic sample
        filtering down-weights triplets whose margin says the pair is noise."""
        q, pos = e["query"], e["positive"]
        neg, weights = None, None
        if "negatives" in batch:
            neg = e["negatives"].reshape(len(q), int(batch["n_negatives"]), -1)
            if self.data.cfg.sample_filtering:
                weights = filter_weights(q, pos, neg)
        return matryoshka(info_nce, dims, q, pos, neg, scale=scale, weights=weights)

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.model.parameters(), lr=self.lr, weight_decay=0.01)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: warmup_cosine(step, self.steps))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def intra_loss(e: dict, dims, scale: torch.Tensor, photos_weight: str = "added") -> torch.Tensor:
    """`EncoderTask._intra_loss` as a pure function of the step's embeddings."""
    def pair(a: str, b: torch.Tensor) -> torch.Tensor:
        return matryoshka(info_nce, dims, e[a], b, scale=scale)
    if "expanded" in e and photos_weight == "held":
        photos = [e["augmented"], *torch.split(e["expanded"], len(e["item"]))]
        return sum(pair("item", p) + pair("image", p) for p in photos) / len(photos) + pair("item", e["title"]) + pair("image", e["title"])
    loss = pair("item", e["augmented"]) + pair("item", e["title"]) + pair("image", e["augmented"]) + pair("image", e["title"])
    if "expanded" in e:
        photos = torch.split(e["expanded"], len(e["item"]))
        loss = loss + sum(pair("item", p) + pair("image", p) for p in photos) / len(photos)
    return loss


@torch.no_grad()
def filter_weights(q: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """Dynamic sample filtering (MOON2.0): (B,) FILTER_WEIGHT where the clicked item's cosine to the
    query falls more than FILTER_MARGIN below its best negative's (the pair is probably noise), else 1."""
    qn = nn.functional.normalize(q, dim=-1)
    margin = (qn * nn.functional.normalize(pos, dim=-1)).sum(-1) - torch.einsum(
        "bd,bnd->bn", qn, nn.functional.normalize(neg, dim=-1)).max(1).values
    return torch.where(margin < -FILTER_MARGIN, FILTER_WEIGHT, 1.0)
