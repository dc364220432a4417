"""The ranker's parts for what a real log adds (`adsim replay`): behaviour events, the user's
profile and the ad's price, as the field's models read them (BARS's DIN on TaobaoAd_x1).

Shapes: R requests, C candidates, Le behaviour events, D id-embedding size, A affinity features,
P profile fields.

    EventAttention   the user's behaviour events (category, brand, event kind) and the candidate's
                     category and brand -> interest (R, C, 2D): target attention (a scaled bilinear
                     score, softmax-pooled; DIN's activation unit is an MLP and sum-pools), the
                     event and target ids sharing a TorchRec EmbeddingCollection
    LogFeatures      EventAttention, the affinity features (dense: the share of the user's events in
                     the ad's category and brand, counts per kind), the profile fields and the price
                     bucket through TorchRec EmbeddingBagCollections -> deep parts and dense parts
"""

from __future__ import annotations

import torch
from torch import nn
from torchrec import (
    EmbeddingBagCollection,
    EmbeddingBagConfig,
    EmbeddingCollection,
    EmbeddingConfig,
    KeyedJaggedTensor,
    PoolingType,
)

from stages.ranker.attention import masked_softmax
from stages.ranker.features import LogSide, LogSizes, RankerBatch

CPU = torch.device("cpu")


def _bag(name: str, n: int, feature: str, dim: int) -> EmbeddingBagConfig:
    return EmbeddingBagConfig(name=name, embedding_dim=dim, num_embeddings=n, feature_names=[feature], pooling=PoolingType.SUM)


class EventAttention(nn.Module):
    """Target attention over behaviour events (softmax-pooled): an event is its category and brand (2D), its
    kind (pv, cart, fav, buy) added to both halves; the target is the ad's category and brand."""

    KEYS = ["event_category", "target_category", "event_brand", "target_brand", "event_kind"]

    def __init__(self, categories: int, brands: int, kinds: int, dim: int):
        super().__init__()
        self.events_ec = EmbeddingCollection(tables=[
            EmbeddingConfig(name="t_ev_category", embedding_dim=dim, num_embeddings=categories,
                            feature_names=["event_category", "target_category"]),
            EmbeddingConfig(name="t_ev_brand", embedding_dim=dim, num_embeddings=brands, feature_names=["event_brand", "target_brand"]),
            EmbeddingConfig(name="t_ev_kind", embedding_dim=dim, num_embeddings=kinds, feature_names=["event_kind"]),
        ], device=CPU)
        self.attention = nn.Linear(2 * dim, 2 * dim, bias=False)

    def _lookup(self, values: dict[str, torch.Tensor], lengths: dict[str, torch.Tensor], n: int):
        """The tables' rows for the keys given, the other keys empty (every key has n lengths)."""
        zeros = torch.zeros(n, dtype=torch.long, device=next(iter(values.values())).device)
        return self.events_ec(KeyedJaggedTensor.from_lengths_sync(
            keys=self.KEYS, values=torch.cat([values[k] for k in self.KEYS if k in values]),
            lengths=torch.cat([lengths.get(k, zeros) for k in self.KEYS])))

    def forward(self, b: RankerBatch) -> torch.Tensor:
        """Interest (R, C, 2D): the events pooled by softmax(attention(target) . event)."""
        log, (r, c) = b.log, b.item.shape
        le, valid = log.event_category.shape[1], log.event_valid
        seq_keys = ("event_category", "event_brand", "event_kind")
        values = dict(zip(seq_keys, (log.event_category[valid], log.event_brand[valid], log.event_kind[valid])))
        out = self._lookup(values, {k: log.event_len for k in seq_keys}, r)
        kind = out["event_kind"].to_padded_dense(desired_length=le)
        seq = torch.cat([out["event_category"].to_padded_dense(desired_length=le) + kind,
                         out["event_brand"].to_padded_dense(desired_length=le) + kind], -1)  # (R, Le, 2D)
        ones = torch.ones(r * c, dtype=torch.long, device=b.item.device)
        tgt = self._lookup({"target_category": b.leaf.reshape(-1), "target_brand": b.brand.reshape(-1)},
                           {"target_category": ones, "target_brand": ones}, r * c)
        target = torch.cat([tgt["target_category"].values(), tgt["target_brand"].values()], -1).reshape(r, c, -1)
        scores = torch.einsum("rcd,rld->rcl", self.attention(target), seq) / seq.shape[-1] ** 0.5
        return torch.einsum("rcl,rld->rcd", masked_softmax(scores, valid[:, None, :]), seq)


class LogFeatures(nn.Module):
    """Every part a real log adds that `sizes` switches on: deep parts (R, C, ·) and dense parts."""

    def __init__(self, sizes: LogSizes, categories: int, brands: int, dim: int):
        super().__init__()
        self.sizes = sizes
        self.events = EventAttention(categories, brands, sizes.kinds, dim) if sizes.kinds else None
        fields = [f"profile_{j}" for j in range(len(sizes.profile))]
        self.fields = fields
        self.profile_ebc = (EmbeddingBagCollection(tables=[_bag(f"t_{f}", n, f, dim) for f, n in zip(fields, sizes.profile)],
                                                   device=CPU) if fields else None)
        self.price_ebc = (EmbeddingBagCollection(tables=[_bag("t_price", sizes.price_buckets, "price", dim)], device=CPU)
                          if sizes.price_buckets else None)
        self.deep_dim = dim * (2 * bool(self.events) + len(fields) + bool(self.price_ebc)) + sizes.affinity
        self.dense_dim = sizes.affinity

    def _bags(self, ebc: EmbeddingBagCollection, keys: list[str], ids: torch.Tensor) -> torch.Tensor:
        """(n, k) ids, one per key -> (n, k * D)."""
        n = ids.shape[0]
        ones = torch.ones(n * len(keys), dtype=torch.long, device=ids.device)
        out = ebc(KeyedJaggedTensor.from_lengths_sync(keys=keys, values=ids.T.reshape(-1), lengths=ones)).to_dict()
        return torch.cat([out[k] for k in keys], -1)

    def forward(self, b: RankerBatch) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """(deep parts, dense parts), each (R, C, ·)."""
        log_side_present(b.log, self.sizes)
        log, (r, c) = b.log, b.item.shape
        deep, dense = [], []
        if self.events is not None:
            deep.append(self.events(b))
        if self.profile_ebc is not None:
            deep.append(self._bags(self.profile_ebc, self.fields, log.profile)[:, None].expand(r, c, -1))
        if self.price_ebc is not None:
            deep.append(self._bags(self.price_ebc, ["price"], log.price.reshape(-1, 1)).reshape(r, c, -1))
        if self.sizes.affinity:
            deep.append(log.affinity)
            dense.append(log.affinity)
        return deep, dense


def log_side_present(log: LogSide | None, sizes: LogSizes) -> None:
    """One clear error where a batch lacks a part the network was built to read."""
    wanted = {"event_category": sizes.kinds, "profile": sizes.profile, "price": sizes.price_buckets, "affinity": sizes.affinity}
    missing = [k for k, on in wanted.items() if on and (log is None or getattr(log, k) is None)]
    if missing:
        raise ValueError(f"the ranker reads {', '.join(missing)} but the batch has none")
