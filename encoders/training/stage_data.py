"""The batch of each training step, a pure function of (seed, stage, global step), so a stage
resumed from its checkpoint continues where it stopped.

- pretrain: intra-product alignment inputs: items as served, their image and title apart, a
  shopper-style photo of each, and with `visual_expansion` = k, k more photos per item (MOON2.0's
  visual expansion: other views, crops, light and clutter of the same product in the same step).
- posttrain and grpo: past search queries, the item clicked, hard negatives (same leaf) and
  spatial-temporal negatives (shown in the same session, not clicked), plus the intra-product
  inputs of `intra_batch` items.
Each batch also names the listed item behind every row that shows one (`ids`), so the reasoning
head can be taught what that listing states.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from adsim.core.config import EncoderTrainConfig
from adsim.core.rng import generator
from adsim.world.leaf_index import LeafIndex
from adsim.world.view import WorldView
from encoders.nets.data import EncoderInputs, InputBuilder, to_pixels
from encoders.reasoning.head import reasoning_targets

INTRA_INPUTS = ("item", "augmented", "title", "image")


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
        targets = reasoning_targets(self.view.items) if self.cfg.reasoning != "off" else None
        object.__setattr__(self, "targets", targets)

    def intra_batch(self, rng: np.random.Generator, step: int, size: int) -> dict:
        """Intra-product alignment inputs: items as served, their image and title apart, and photos."""
        v = self.view
        ids = rng.choice(self.listed, size=min(size, len(self.listed)), replace=False)
        views = rng.integers(0, 4, len(ids))
        photos = v.camera.item_photos(ids, ids * 1000 + step, self.cfg.seed, stream=f"augment-{self.stage}")
        item = self.builder.items(ids, views)  # its image and title parts are the "image" and "title" inputs
        out = {"item": item, "image": EncoderInputs(pixel_values=item.pixel_values),
               "title": EncoderInputs(input_ids=item.input_ids, attention_mask=item.attention_mask),
               "augmented": EncoderInputs(pixel_values=to_pixels(photos))}
        k = self.cfg.visual_expansion
        if k > 0:  # photo j of every item, block by block: (k * n) rows
            more = [v.camera.item_photos(ids, ids * 1000 + step, self.cfg.seed, stream=f"expand{j}-{self.stage}") for j in range(k)]
            out["expanded"] = EncoderInputs(pixel_values=to_pixels(np.concatenate(more)))
        names = INTRA_INPUTS + (("expanded",) if k > 0 else ())
        out["ids"] = {n: (np.tile(ids, k) if n == "expanded" else ids) for n in names}
        return out

    def batch(self, step: int) -> dict:
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
        out = {"query": self.builder.history(events), "positive": self.builder.items(clicked), "ids": {"positive": clicked}}
        if negatives.shape[1]:
            out["negatives"] = self.builder.items(negatives.ravel())
            out["n_negatives"] = torch.tensor(negatives.shape[1])
            out["ids"]["negatives"] = negatives.ravel()
        if self.cfg.intra_batch > 0:  # MOON2.0: inter- and intra-product alignment trained together
            intra = self.intra_batch(rng, step, self.cfg.intra_batch)
            out |= {k: v for k, v in intra.items() if k != "ids"}
            out["ids"] |= intra["ids"]
        return out

    def row_targets(self, batch: dict, names: list[str]) -> torch.Tensor:
        """(rows, S) reasoning targets of the packed inputs `names`: the listing's stated attributes
        where the row shows a listed item, -1 elsewhere (queries)."""
        rows = []
        for n in names:
            ids = batch["ids"].get(n)
            rows.append(self.targets[ids] if ids is not None else np.full((len(batch[n]), self.targets.shape[1]), -1))
        return torch.from_numpy(np.concatenate(rows).astype(np.int64))
