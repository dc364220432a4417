"""Query-ad relevance model: an MLP over embedding similarity, embedding interactions and
lexical overlap, trained with Lightning on (noisy) annotator labels, used to filter candidates.

Features per (query, item) pair: cosine similarity, the elementwise product q*i and |q-i|,
idf-weighted token overlap (absolute and as a share of the query's idf mass), and the query
modality. Target: annotator grade >= 2 ("relevant").
"""

from __future__ import annotations

from dataclasses import dataclass

import lightning as L
import numpy as np
import torch
from torch import nn

from adsim.config import RelevanceConfig
from adsim.device import torch_device
from stages.lexical import LexicalIndex
from stages.training import batch_loader, fit

N_MODALITIES = 3


@dataclass(frozen=True)
class PairFeatures:
    """Inputs for P pairs: query and item embeddings plus lexical and modality features."""

    query: np.ndarray     # float32 (P, d)
    item: np.ndarray      # float32 (P, d)
    lexical: np.ndarray   # float32 (P, 2)
    modality: np.ndarray  # int8 (P,)

    def tensor(self) -> torch.Tensor:
        q, i = torch.from_numpy(self.query), torch.from_numpy(self.item)
        mod = torch.nn.functional.one_hot(torch.from_numpy(self.modality.astype(np.int64)), N_MODALITIES).float()
        return torch.cat([(q * i).sum(1, keepdim=True), q * i, (q - i).abs(), torch.from_numpy(self.lexical), mod], 1)


def pair_features(query_emb: np.ndarray, item_emb: np.ndarray, texts: np.ndarray, items: np.ndarray,
                  modality: np.ndarray, lexical: LexicalIndex) -> PairFeatures:
    """Features of (R, C) candidate pairs, flattened to R*C rows (item -1 gives zero vectors)."""
    r, c = items.shape
    overlap = lexical.overlap(texts, items)
    q_mass = np.asarray(lexical.query_matrix(texts) @ lexical.idf).ravel()
    share = overlap / np.maximum(q_mass, 1e-6)[:, None]
    ie = np.where((items >= 0)[..., None], item_emb[np.maximum(items, 0)], 0.0).astype(np.float32)
    return PairFeatures(query=np.repeat(query_emb, c, axis=0), item=ie.reshape(r * c, -1),
                        lexical=np.stack([np.log1p(overlap), share], -1).reshape(r * c, 2).astype(np.float32),
                        modality=np.repeat(modality, c))


class RelevanceNet(nn.Module):
    """MLP: features (P, 2d + 6) -> relevance logit (P,)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2 * dim + 3 + N_MODALITIES, hidden), nn.ReLU(),
                                 nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


class _Task(L.LightningModule):
    def __init__(self, net: RelevanceNet):
        super().__init__()
        self.net = net

    def training_step(self, batch, _):
        x, y = batch
        return nn.functional.binary_cross_entropy_with_logits(self.net(x), y)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=3e-3)


class RelevanceModel:
    """Trained relevance filter for one arm (its embedding features)."""

    def __init__(self, cfg: RelevanceConfig, dim: int, seed: int):
        self.cfg = cfg
        torch.manual_seed(seed)
        self.net = RelevanceNet(dim, cfg.hidden)
        self.seed = seed

    def fit(self, features: PairFeatures, labels: np.ndarray) -> "RelevanceModel":
        x = features.tensor()
        y = torch.from_numpy((labels >= 2).astype(np.float32))
        loader = batch_loader(len(y), 512, lambda idx: (x[idx], y[idx]), shuffle=True, seed=self.seed)
        fit(_Task(self.net), loader, self.cfg.epochs)
        self.net = self.net.to(torch_device()).eval()
        return self

    @torch.no_grad()
    def score(self, features: PairFeatures) -> np.ndarray:
        """P(relevant) for each pair, (P,) float32."""
        x = features.tensor().to(torch_device())
        return torch.sigmoid(self.net(x)).float().cpu().numpy()
