"""The CTR ranker for one arm: trained with Lightning on logged impressions, served as a `Ranker`.

The network and its parts are in stages.ranker.arch, its inputs in stages.ranker.features. It
trains one epoch with three learning rates: few, strong parameters (the wide weights, the position
bias, the content temperature) travel far, the sparse id tables learn slowly so they cannot
memorise the few logged clicks, everything else is in between.
"""

from __future__ import annotations

from typing import Callable, Iterator

import lightning as L
import numpy as np
import torch
from torch import nn

from adsim.core.config import RankerConfig
from adsim.core.runtime.device import torch_device
from adsim.core.runtime.dist import Ranks
from adsim.core.runtime.quiet import quiet_libraries
from adsim.core.torch_rng import TorchStream
from stages.ranker.calibration import platt_apply, platt_fit
from stages.interfaces import QueryBatch
from stages.ranker.arch import FAST_LR_MULTIPLIER, FAST_PARAMS, SPARSE_LR_MULTIPLIER, SPARSE_PARAMS, CtrRanker
from stages.ranker.features import ImpressionTable, RankerBatch, RankerFeatures, TableSizes
from stages.ranker.serving import item_tables, serve_logits
from stages.ranker.sharded import fit_sharded
from stages.training import batch_loader, fit, stream_loader

SCORE_BLOCK = 128  # requests scored together in serving (cache-sized activations)


class _Task(L.LightningModule):
    """One epoch of the ranker, with two optimizers stepped by hand: the id tables take sparse
    gradients (a step touches the rows its batch read: at a million users and items a dense table
    gradient made each step cost 0.6 s whatever the batch), the rest dense ones."""

    def __init__(self, net: CtrRanker, lr: float, weight_decay: float):
        super().__init__()
        self.net, self.lr, self.weight_decay = net, lr, weight_decay
        self.automatic_optimization = False
        for name, m in net.named_modules():
            if name.startswith(SPARSE_PARAMS) and isinstance(m, (nn.Embedding, nn.EmbeddingBag)):
                m.sparse = True

    def training_step(self, batch: RankerBatch, _):
        optimizers = self.optimizers()
        loss = nn.functional.binary_cross_entropy_with_logits(self.net(batch, with_position=True), batch.label)
        for o in optimizers:
            o.zero_grad()
        self.manual_backward(loss)
        for o in optimizers:
            o.step()
        return loss

    def configure_optimizers(self):
        # Few, strong parameters (wide weights, position bias) need to travel far in few steps; the
        # sparse ID tables, seen a handful of times each, learn slowly so they cannot memorise clicks.
        # Their Adam is lazy (moments of the rows a batch read) and without weight decay.
        groups: dict[str, list] = {"fast": [], "sparse": [], "dense": []}
        for name, p in self.net.named_parameters():
            key = "fast" if name.startswith(FAST_PARAMS) else "sparse" if name.startswith(SPARSE_PARAMS) else "dense"
            groups[key].append(p)
        dense = torch.optim.AdamW([
            {"params": groups["dense"]},
            {"params": groups["fast"], "lr": self.lr * FAST_LR_MULTIPLIER, "weight_decay": 0.0},
        ], lr=self.lr, weight_decay=self.weight_decay, fused=True)
        return [dense, torch.optim.SparseAdam(groups["sparse"], lr=self.lr * SPARSE_LR_MULTIPLIER)]


class CtrModel:
    """Train and serve the ranker for one arm (a `Ranker`)."""

    def __init__(self, cfg: RankerConfig, sizes: TableSizes, features: RankerFeatures, n_slots: int, seed: int):
        self.cfg, self.features, self.seed = cfg, features, seed
        self.stream = TorchStream(seed)  # initialisation and dropout draw from this stream only
        with self.stream:
            self.net = CtrRanker(sizes, cfg, features.item_emb.shape[1], n_slots)
        self.platt = (1.0, 0.0)  # the identity until `calibrate`
        self.plan = None  # TorchRec's sharding plan, when the ranks trained it together

    def _rows(self, table: ImpressionTable, idx: np.ndarray, with_label: bool, top_slot: bool = False) -> RankerBatch:
        position = np.zeros((len(idx), 1), np.int64) if top_slot else table.position[idx, None]
        return self.features.batch(table.user[idx], table.modality[idx], table.query_emb[table.query_row[idx]],
                                   table.item[idx, None], table.seq[table.user[idx]], self.cfg.seq_len, position=position,
                                   label=table.click[idx, None].astype(np.float32) if with_label else None)

    def fit(self, table: ImpressionTable, ranks: Ranks | None = None) -> "CtrModel":
        """Train on logged impressions (one epoch by default), then move to the serving device. With
        several `ranks` and `shard_tables`, the ranks train it together (stages.ranker.sharded)."""
        def rows(i: torch.Tensor) -> RankerBatch:
            return self._rows(table, i.numpy(), True)
        self.start_at_rate(float(table.click.mean()) if len(table.click) else 0.5)
        with self.stream:
            if ranks is not None and ranks.world > 1 and self.cfg.shard_tables:
                indices = batch_loader(len(table.item), self.cfg.batch_size, lambda i: i, shuffle=True, seed=self.seed)
                self.plan = fit_sharded(self.net, indices, rows, self.cfg, ranks, torch_device())
            else:
                loader = batch_loader(len(table.item), self.cfg.batch_size, rows, shuffle=True, seed=self.seed)
                fit(_Task(self.net, self.cfg.learning_rate, self.cfg.weight_decay), loader, self.cfg.epochs)
        return self.deploy()

    def start_at_rate(self, rate: float) -> "CtrModel":
        """Start the output at the log-odds of the logged click rate. From an intercept of 0 (P(click)
        0.5 on logs that click about 1 % of the time) a short epoch spends its steps pulling every
        score down, and drives the weights of always-positive features (query similarity) negative
        on the way: on a small world the ranker came out ranking worse than chance."""
        r = float(np.clip(rate, 1e-4, 1 - 1e-4))
        with torch.no_grad():
            self.net.over.wide.bias.fill_(float(np.log(r / (1 - r))))
        return self

    def fit_stream(self, batches: Callable[[], Iterator[RankerBatch]], base_rate: float) -> "CtrModel":
        """Train on batches a generator streams (a log read part by part; one pass per epoch; its
        click rate `base_rate`), then switch to eval mode on the serving device for `logits_of`."""
        self.start_at_rate(base_rate)
        with self.stream:
            fit(_Task(self.net, self.cfg.learning_rate, self.cfg.weight_decay), stream_loader(batches), self.cfg.epochs)
        self.net = self.net.to(torch_device()).eval()
        return self

    @torch.no_grad()
    def logits_of(self, b: RankerBatch) -> np.ndarray:
        """Raw position-aware logits (R, C) of a batch of logged rows."""
        with quiet_libraries():
            return self.net(b.to(torch_device()), with_position=True).cpu().numpy()

    def deploy(self) -> "CtrModel":
        """Ready to serve: on the serving device, in eval mode, with its per-ad tables built."""
        self.net = self.net.to(torch_device()).eval()
        with quiet_libraries():
            self.tables = item_tables(self.net, self.features, torch_device())
        return self

    def calibrate(self, logits: np.ndarray, clicks: np.ndarray) -> "CtrModel":
        """Platt-scale future scores so that `logits` (raw, position-aware, of logged impressions) match
        their `clicks`."""
        if len(logits) and clicks.any():
            self.platt = platt_fit(logits, clicks)
        return self

    @torch.no_grad()
    def position_free_logits(self, table: ImpressionTable, batch: int = 8192) -> np.ndarray:
        """Raw logits of logged impressions without the position bias, (n,): the bias is additive,
        so one pass gives the logged-slot and the top-slot scores (`logits_logged`)."""
        out = []
        with quiet_libraries():
            for s in range(0, len(table.item), batch):
                idx = np.arange(s, min(s + batch, len(table.item)))
                out.append(self.net(self._rows(table, idx, False, top_slot=True).to(torch_device()))[:, 0].cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def logits_logged(self, table: ImpressionTable, top_slot: bool = False,
                      free: np.ndarray | None = None) -> np.ndarray:
        """Raw logits of logged impressions in their logged slot, or in the top slot as served, (n,);
        `free`: their `position_free_logits`, when already computed."""
        free = self.position_free_logits(table) if free is None else free
        bias = self.net.position_bias.weight[:, 0].detach().cpu().numpy()
        return free + bias[0 if top_slot else table.position]

    def predict_logged(self, table: ImpressionTable, top_slot: bool = False,
                       free: np.ndarray | None = None) -> np.ndarray:
        """Calibrated P(click) of logged impressions: in their logged slot, or in the top slot (the
        score the auction sees), (n,)."""
        return platt_apply(self.logits_logged(table, top_slot, free), self.platt)

    @torch.no_grad()
    def score(self, queries: QueryBatch, items: np.ndarray, block: int = SCORE_BLOCK) -> np.ndarray:
        """Served pCTR (top-slot, position-free) of (R, C) candidates; 0 where item is -1. Requests go
        `block` at a time so each block's activations stay in cache, in order of behaviour length so
        each block reads only as many positions as its longest sequence."""
        out = np.zeros(items.shape, dtype=np.float32)
        lengths = (queries.behaviour[:, -self.cfg.seq_len:] >= 0).sum(1)
        order = np.argsort(lengths, kind="stable")
        with quiet_libraries():
            for s in range(0, len(items), block):
                rows = order[s:s + block]
                b = self.features.batch(queries.user_id[rows], queries.modality[rows], queries.embedding[rows], items[rows],
                                        queries.behaviour[rows], self.cfg.seq_len, trim=True).to(torch_device())
                out[rows] = platt_apply(serve_logits(self.net, b, self.tables).cpu().numpy(), self.platt)
        return np.where(items >= 0, out, 0.0).astype(np.float32)
