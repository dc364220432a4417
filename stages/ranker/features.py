"""What the CTR ranker reads, as typed batches: catalogue metadata, logged behaviour sequences and
the arm's frozen content embeddings (never ground truth).

Shapes: R requests, C candidates each (C = 1 in training, one impression per row), L behaviour
items, E content-embedding size.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from stages.sequences import right_padded


@dataclass
class RankerBatch:
    """One batch of the ranker's inputs."""

    user: torch.Tensor        # long (R,)
    modality: torch.Tensor    # long (R,)
    seq_item: torch.Tensor    # long (R, L), right-padded with 0
    seq_leaf: torch.Tensor    # long (R, L)
    seq_len: torch.Tensor     # long (R,)
    item: torch.Tensor        # long (R, C)
    advertiser: torch.Tensor  # long (R, C)
    brand: torch.Tensor       # long (R, C)
    leaf: torch.Tensor        # long (R, C)
    item_emb: torch.Tensor    # float (R, C, E)
    seq_emb: torch.Tensor     # float (R, L, E)
    query_sim: torch.Tensor   # float (R, C)
    position: torch.Tensor | None = None  # long (R, C), training only
    label: torch.Tensor | None = None     # float (R, C)
    log: "LogSide | None" = None          # what a real log adds (replay only)

    @property
    def seq_valid(self) -> torch.Tensor:
        """bool (R, L): which sequence positions hold an item."""
        return torch.arange(self.seq_item.shape[1], device=self.seq_item.device)[None] < self.seq_len[:, None]

    def to(self, device: torch.device) -> "RankerBatch":
        return _moved(self, device)


@dataclass
class LogSide:
    """What a real log adds to a batch, each part None where the log lacks it or it is switched off.
    Le behaviour events (right-padded with 0), A affinity features, P profile fields."""

    event_category: torch.Tensor | None = None  # long (R, Le)
    event_brand: torch.Tensor | None = None     # long (R, Le)
    event_kind: torch.Tensor | None = None      # long (R, Le), 0 past the length
    event_len: torch.Tensor | None = None       # long (R,)
    affinity: torch.Tensor | None = None        # float (R, C, A): the user's behaviour toward the ad's category and brand
    profile: torch.Tensor | None = None         # long (R, P) profile codes, 0 missing
    price: torch.Tensor | None = None           # long (R, C) price bucket, 0 unknown

    @property
    def event_valid(self) -> torch.Tensor:
        return torch.arange(self.event_category.shape[1], device=self.event_category.device)[None] < self.event_len[:, None]

    def to(self, device: torch.device) -> "LogSide":
        return _moved(self, device)


def _moved(batch, device: torch.device):
    """A copy of a batch dataclass with every tensor (and nested batch) on `device`."""
    return type(batch)(**{f.name: (v.to(device) if v is not None else None) for f in fields(batch) for v in [getattr(batch, f.name)]})


@dataclass(frozen=True)
class LogSizes:
    """Tables of what a real log adds (stages.ranker.log_arch); 0 or () where a part is off."""

    kinds: int = 0                     # behaviour event kinds + 1 (0: no behaviour events)
    affinity: int = 0                  # affinity features
    profile: tuple[int, ...] = ()      # each profile field's table size
    price_buckets: int = 0             # price buckets + 1 (0: no price)


@dataclass(frozen=True)
class TableSizes:
    """Rows of each id-embedding table, and what a real log adds."""

    users: int
    items: int
    advertisers: int
    brands: int
    leaves: int
    log: LogSizes | None = None


def _tensor(a: np.ndarray, dtype: torch.dtype = torch.long) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).to(dtype)


@dataclass
class RankerFeatures:
    """The item side the ranker may read: catalogue metadata and the arm's embeddings."""

    advertiser: np.ndarray    # (n_items,) catalogue metadata
    brand: np.ndarray
    leaf: np.ndarray
    item_emb: np.ndarray      # (n_items, E) the arm's frozen embeddings

    def batch(self, user: np.ndarray, modality: np.ndarray, query_emb: np.ndarray, items: np.ndarray,
              behaviour: np.ndarray, seq_len_cap: int, position: np.ndarray | None = None,
              label: np.ndarray | None = None, trim: bool = False) -> RankerBatch:
        """A batch for R requests with (R, C) candidate items (-1 = empty, scored but ignored) and each
        user's (R, L') left-padded behaviour, of which the last `seq_len_cap` items are read. `trim`
        drops the positions that are padding in every row (they carry exactly zero weight)."""
        seq_r, seq_len = right_padded(behaviour[:, -seq_len_cap:])
        if trim:
            seq_r = seq_r[:, :max(1, int(seq_len.max(initial=0)))]
        seq_safe = np.maximum(seq_r, 0)
        it = np.maximum(items, 0)
        item_emb = self.item_emb[it]
        seq_emb = self.item_emb[seq_safe] * (seq_r >= 0)[..., None]
        return RankerBatch(
            user=_tensor(user), modality=_tensor(modality), seq_item=_tensor(seq_safe), seq_leaf=_tensor(self.leaf[seq_safe]),
            seq_len=_tensor(seq_len), item=_tensor(it), advertiser=_tensor(self.advertiser[it]), brand=_tensor(self.brand[it]),
            leaf=_tensor(self.leaf[it]), item_emb=_tensor(item_emb, torch.float32), seq_emb=_tensor(seq_emb, torch.float32),
            query_sim=_tensor(np.einsum("re,rce->rc", query_emb, item_emb), torch.float32),
            position=_tensor(position) if position is not None else None,
            label=_tensor(label, torch.float32) if label is not None else None)


@dataclass(frozen=True)
class ImpressionTable:
    """Logged impressions the ranker trains on (one row each), with their queries' embeddings (a
    request fills several slots; its embedding is held once) and the behaviour sequences
    (n_users, L) they were served with."""

    user: np.ndarray
    modality: np.ndarray
    query_emb: np.ndarray  # (Q, E) the arm's embeddings of the logged queries, one row per request
    query_row: np.ndarray  # (n,) each impression's row in query_emb
    item: np.ndarray
    position: np.ndarray
    click: np.ndarray
    seq: np.ndarray        # (n_users, L) left-padded sequences at serving time

    def rows(self, mask: np.ndarray) -> "ImpressionTable":
        """The impressions where `mask` holds (query embeddings and sequences shared)."""
        return ImpressionTable(user=self.user[mask], modality=self.modality[mask], query_emb=self.query_emb,
                               query_row=self.query_row[mask], item=self.item[mask], position=self.position[mask],
                               click=self.click[mask], seq=self.seq)
