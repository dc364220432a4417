"""Query-ad relevance model: an MLP over embedding similarity, embedding interactions and
lexical overlap, trained with Lightning on (noisy) annotator labels, used to filter candidates.

Features per (query, item) pair: cosine similarity, the elementwise product q*i,
idf-weighted token overlap (absolute and as a share of the query's idf mass), and the query
modality. Target: annotator grade >= 2 ("relevant").
"""

from __future__ import annotations

from dataclasses import dataclass

import lightning as L
import numpy as np
import torch
from torch import nn

from adsim.core.config import RelevanceConfig
from adsim.core.runtime.device import torch_device
from adsim.core.torch_rng import TorchStream
from adsim.core.vocab import N_MODALITIES
from stages.lexical import LexicalIndex, LexicalMatch
from stages.training import batch_loader, fit


@dataclass(frozen=True)
class PairFeatures:
    """Inputs for R queries x C candidate items; flattened to R*C pairs by `tensor`."""

    query: np.ndarray       # float32 (R, d)
    item_table: np.ndarray  # float32 (n_items, d), the arm's item embeddings
    items: np.ndarray       # int (R, C) candidate ids, -1 = none (zero features)
    lexical: np.ndarray     # float32 (R, C, 2)
    modality: np.ndarray    # int (R,)

    def tensor(self) -> torch.Tensor:
        """(R*C, d + 6): cosine, q*i, lexical overlap (log, share), modality one-hot."""
        r, c = self.items.shape
        q = torch.from_numpy(self.query)[:, None, :]
        idx = torch.from_numpy(np.maximum(self.items, 0).astype(np.int64))
        i = torch.from_numpy(self.item_table)[idx] * torch.from_numpy(self.items >= 0)[..., None]
        prod = q * i
        mod = nn.functional.one_hot(torch.from_numpy(self.modality.astype(np.int64)), N_MODALITIES).float()
        x = torch.cat([prod.sum(-1, keepdim=True), prod, torch.from_numpy(self.lexical),
                       mod[:, None, :].expand(r, c, N_MODALITIES)], -1)
        return x.reshape(r * c, -1)


def pair_features(query_emb: np.ndarray, item_emb: np.ndarray, texts: "np.ndarray | LexicalMatch", items: np.ndarray,
                  modality: np.ndarray, lexical: LexicalIndex) -> PairFeatures:
    """Features of (R, C) candidate pairs (item -1 gives zero vectors); `texts` may be the queries'
    `LexicalMatch` already computed by retrieval."""
    overlap, q_mass = lexical.overlap(texts, items)
    share = overlap / np.maximum(q_mass, 1e-6)[:, None]
    return PairFeatures(query=np.ascontiguousarray(query_emb, dtype=np.float32), item_table=item_emb, items=items,
                        lexical=np.stack([np.log1p(overlap), share], -1).astype(np.float32), modality=modality)


class RelevanceNet(nn.Module):
    """MLP: features (P, d + 6) -> relevance logit (P,)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim + 3 + N_MODALITIES, hidden), nn.ReLU(),
                                 nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)

    def score_pairs(self, f: PairFeatures, block: int = 32) -> torch.Tensor:
        """The same logits as `forward(f.tensor())`, (R*C,), without building the pair matrix: the
        first layer's cosine and q*i columns fold into one (d, H) matrix per query, q_j (W_prod[:, j]
        + W_cos), applied to the candidates' vectors by one batched matmul that starts from the
        request's modality and bias term; the lexical columns are accumulated in place. Requests go
        `block` at a time so a block's activations stay in cache (docs/PERFORMANCE.md: about half
        the time of the pass before, one thread)."""
        first, mid, last = self.net[0], self.net[2], self.net[4]
        d, dev = f.query.shape[1], first.weight.device
        w = first.weight  # (H, 1 + d + 2 + M): cosine, q*i, lexical, modality
        fold = (w[:, 1:1 + d].T + w[:, 0])[None]                                         # (1, d, H)
        w_lex = w[:, 1 + d:3 + d].T.contiguous()[None]                                   # (1, 2, H)
        table = torch.from_numpy(f.item_table).to(dev)
        idx = torch.from_numpy(f.items.astype(np.int64)).to(dev)
        q = torch.from_numpy(f.query).to(dev)
        lex = torch.from_numpy(f.lexical).to(dev)
        mod = nn.functional.one_hot(torch.from_numpy(f.modality.astype(np.int64)), N_MODALITIES).float().to(dev)
        per_request = (mod @ w[:, 3 + d:].T + first.bias)[:, None, :]                    # (R, 1, H)
        out = torch.empty(idx.numel(), device=dev)
        c = idx.shape[1]
        for s in range(0, len(idx), block):
            rows = slice(s, s + block)
            ids = idx[rows]
            vectors = nn.functional.embedding(ids.clamp(min=0), table)                   # (B, C, d)
            empty = torch.nonzero(ids < 0, as_tuple=True)
            if len(empty[0]):
                vectors[empty] = 0.0  # an empty candidate's vector is zero (by index: a write of its rows only)
            h = torch.baddbmm(per_request[rows], vectors, q[rows, :, None] * fold)       # (B, C, H)
            h.baddbmm_(lex[rows], w_lex.expand(len(ids), -1, -1))
            h = torch.relu_(h).reshape(-1, h.shape[-1])
            h = torch.relu_(torch.addmm(mid.bias, h, mid.weight.T))
            out[s * c:(s + len(ids)) * c] = torch.addmm(last.bias, h, last.weight.T).reshape(-1)
        return out


class _Task(L.LightningModule):
    def __init__(self, net: RelevanceNet, lr: float):
        super().__init__()
        self.net, self.lr = net, lr

    def training_step(self, batch, _):
        x, y = batch
        return nn.functional.binary_cross_entropy_with_logits(self.net(x), y)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr, fused=True)


class RelevanceModel:
    """Trained relevance filter for one arm (its embedding features)."""

    def __init__(self, cfg: RelevanceConfig, dim: int, seed: int):
        self.cfg, self.seed = cfg, seed
        self.stream = TorchStream(seed)
        with self.stream:
            self.net = RelevanceNet(dim, cfg.hidden)

    def fit(self, features: PairFeatures, labels: np.ndarray) -> "RelevanceModel":
        """Train on annotator grades (relevant = grade >= 2), then move to the serving device."""
        x = features.tensor()
        y = torch.from_numpy((labels.reshape(-1) >= 2).astype(np.float32))
        loader = batch_loader(len(y), self.cfg.batch_size, lambda idx: (x[idx], y[idx]), shuffle=True, seed=self.seed)
        with self.stream:
            fit(_Task(self.net, self.cfg.learning_rate), loader, self.cfg.epochs)
        return self.deploy()

    def deploy(self) -> "RelevanceModel":
        """Ready to serve: on the serving device, in eval mode."""
        self.net = self.net.to(torch_device()).eval()
        return self

    @torch.no_grad()
    def score(self, features: PairFeatures) -> np.ndarray:
        """P(relevant) for each pair, (R*C,) float32."""
        return torch.sigmoid(self.net.score_pairs(features)).float().cpu().numpy()
