"""The CTR ranker's network in named parts, composed as TorchRec's DLRM composes its arches.

Shapes: R requests, C candidates each, L behaviour items, D id-embedding size, E content-embedding
size, H hidden width, B histogram bins, M = N_MODALITIES.

    IdEmbeddings        ids -> user (R, D) and item, advertiser, brand, leaf (R, C, D) each
                        (TorchRec EmbeddingBagCollections)
    BehaviourAttention  behaviour sequence and target -> interest (R, C, 2D), target (R, C, 2D)
                        (an EmbeddingCollection shared by sequence and target, DIN target attention)
    ContentFeatures     the arm's frozen content embeddings -> target (R, C, D), attention-pooled
                        sequence (R, C, D), similarity histogram (R, C, B), max, mean and query
                        similarity (R, C, 1) each (MOON's user-behaviour module)
    OverArch            deep: every part concatenated -> MLP -> logit (R, C);
                        wide: the dense similarity features -> linear -> logit (R, C)
    LogFeatures         what a real log adds, in replay only (stages.ranker.log_arch): behaviour
                        events, profile fields, the ad's price
    CtrRanker           the sum of both logits, plus a position bias in training only, so the
                        served score is position-free (the CTR the ad would have in the top slot)
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

from adsim.core.config import RankerConfig
from adsim.core.vocab import N_MODALITIES
from stages.ranker.attention import masked_softmax
from stages.ranker.features import RankerBatch, TableSizes
from stages.ranker.log_arch import LogFeatures

AD_FEATURES = ("item", "advertiser", "brand", "leaf")
# Parameter groups by name: few, strong parameters travel far; the sparse id tables learn slowly.
FAST_PARAMS = ("over.wide.", "position_bias.", "content.moon_temperature")
SPARSE_PARAMS = ("ids.user_ebc.", "ids.ad_ebc.", "behaviour.seq_ec.", "log.events.events_ec.", "log.profile_ebc.",
                 "log.price_ebc.")
FAST_LR_MULTIPLIER = 10.0
SPARSE_LR_MULTIPLIER = 0.1


def _ones(n: int, device: torch.device) -> torch.Tensor:
    return torch.ones(n, dtype=torch.long, device=device)


class IdEmbeddings(nn.Module):
    """Sparse id features through TorchRec EmbeddingBagCollections: user (R, D); item, advertiser,
    brand and leaf (R, C, D) each."""

    def __init__(self, sizes: TableSizes, dim: int):
        super().__init__()
        dev = torch.device("cpu")

        def table(name: str, n: int, feature: str) -> EmbeddingBagConfig:
            return EmbeddingBagConfig(name=name, embedding_dim=dim, num_embeddings=n, feature_names=[feature],
                                      pooling=PoolingType.SUM)

        self.user_ebc = EmbeddingBagCollection(tables=[table("t_user", sizes.users, "user")], device=dev)
        self.ad_ebc = EmbeddingBagCollection(tables=[
            table("t_item", sizes.items, "item"), table("t_advertiser", sizes.advertisers, "advertiser"),
            table("t_brand", sizes.brands, "brand"), table("t_leaf", sizes.leaves, "leaf")], device=dev)

    def user_embeddings(self, user: torch.Tensor) -> torch.Tensor:
        """(R,) user ids -> (R, D)."""
        kjt = KeyedJaggedTensor.from_lengths_sync(keys=["user"], values=user, lengths=_ones(len(user), user.device))
        return self.user_ebc(kjt).to_dict()["user"]

    def ad_embeddings(self, ids: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """AD_FEATURES -> (n,) ids each -> (n, D) each."""
        ones = _ones(len(ids["item"]), ids["item"].device)
        ad = self.ad_ebc(KeyedJaggedTensor.from_lengths_sync(
            keys=list(AD_FEATURES), values=torch.cat([ids[k] for k in AD_FEATURES]),
            lengths=torch.cat([ones] * len(AD_FEATURES)))).to_dict()
        return {k: ad[k] for k in AD_FEATURES}

    def forward(self, b: RankerBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        r, c = b.item.shape
        ad = self.ad_embeddings({k: getattr(b, k).reshape(-1) for k in AD_FEATURES})
        return self.user_embeddings(b.user), {k: v.reshape(r, c, -1) for k, v in ad.items()}


class BehaviourAttention(nn.Module):
    """DIN-style target attention over the behaviour sequence: item and leaf ids of the sequence and
    of the target share one TorchRec EmbeddingCollection; a bilinear score between the target and
    each position, softmax over the valid positions, pools the interest (R, C, 2D)."""

    def __init__(self, sizes: TableSizes, dim: int):
        super().__init__()
        self.seq_ec = EmbeddingCollection(tables=[
            EmbeddingConfig(name="t_seq_item", embedding_dim=dim, num_embeddings=sizes.items, feature_names=["seq_item", "target_item"]),
            EmbeddingConfig(name="t_seq_leaf", embedding_dim=dim, num_embeddings=sizes.leaves, feature_names=["seq_leaf", "target_leaf"]),
        ], device=torch.device("cpu"))
        self.attention = nn.Linear(2 * dim, 2 * dim, bias=False)

    KEYS = ["seq_item", "target_item", "seq_leaf", "target_leaf"]

    def sequence(self, b: RankerBatch) -> torch.Tensor:
        """Sequence embeddings (R, L, 2D), zero past each user's length."""
        r, l = b.seq_item.shape
        zeros_r = torch.zeros(r, dtype=torch.long, device=b.user.device)
        out = self.seq_ec(KeyedJaggedTensor.from_lengths_sync(
            keys=self.KEYS, values=torch.cat([b.seq_item[b.seq_valid], b.seq_leaf[b.seq_valid]]),
            lengths=torch.cat([b.seq_len, zeros_r, b.seq_len, zeros_r])))
        return torch.cat([out["seq_item"].to_padded_dense(desired_length=l), out["seq_leaf"].to_padded_dense(desired_length=l)], -1)

    def target(self, item: torch.Tensor, leaf: torch.Tensor) -> torch.Tensor:
        """(n,) target items and their leaves -> (n, 2D) from the tables the sequence uses."""
        ones, zeros = _ones(len(item), item.device), torch.zeros(len(item), dtype=torch.long, device=item.device)
        out = self.seq_ec(KeyedJaggedTensor.from_lengths_sync(
            keys=self.KEYS, values=torch.cat([item, leaf]), lengths=torch.cat([zeros, ones, zeros, ones])))
        return torch.cat([out["target_item"].values(), out["target_leaf"].values()], -1)

    def embed(self, b: RankerBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Sequence embeddings (R, L, 2D) and target embeddings (R, C, 2D) from the shared tables."""
        r, c = b.item.shape
        return self.sequence(b), self.target(b.item.reshape(-1), b.leaf.reshape(-1)).reshape(r, c, -1)

    def pool(self, attended_target: torch.Tensor, seq: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Interest (R, C, 2D): the sequence pooled by softmax(attention(target) . position)."""
        scores = torch.einsum("rcd,rld->rcl", attended_target, seq) / seq.shape[-1] ** 0.5
        return torch.einsum("rcl,rld->rcd", masked_softmax(scores, valid[:, None, :]), seq)

    def forward(self, b: RankerBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """(interest (R, C, 2D), target (R, C, 2D))."""
        seq, target = self.embed(b)
        return self.pool(self.attention(target), seq, b.seq_valid), target


class ContentFeatures(nn.Module):
    """MOON's features from the arm's frozen content embeddings (unit norm, so dot = cosine):
    [target (R, C, D), attention-pooled sequence (R, C, D), histogram (R, C, B), max, mean, query
    similarity (R, C, 1) each]; all but the first two are dense features for the wide part too."""

    def __init__(self, content_dim: int, dim: int, bins: int):
        super().__init__()
        self.moon_target = nn.Linear(content_dim, dim)
        self.moon_pool = nn.Linear(content_dim, dim)
        self.moon_temperature = nn.Parameter(torch.tensor(5.0))
        self.bins = bins

    def forward(self, b: RankerBatch) -> list[torch.Tensor]:
        valid = b.seq_valid[:, None, :]
        sims = torch.einsum("rce,rle->rcl", b.item_emb, b.seq_emb)
        pooled = self.moon_pool(torch.einsum("rcl,rle->rce", masked_softmax(sims * self.moon_temperature, valid), b.seq_emb))
        return [self.moon_target(b.item_emb), pooled, *self.similarity_stats(sims, valid), b.query_sim[..., None]]

    def similarity_stats(self, sims: torch.Tensor, valid: torch.Tensor) -> list[torch.Tensor]:
        """Histogram (R, C, B), max and mean (R, C, 1) of candidate-to-sequence similarities."""
        # In-place steps and a (.., 1, L) mask broadcast, not materialised: the values are unchanged.
        bucket = (sims + 1).div_(2).mul_(self.bins).long().clamp_(0, self.bins - 1)
        mask = valid.to(sims.dtype)
        hist = torch.zeros(*sims.shape[:2], self.bins, device=sims.device).scatter_add_(2, bucket, mask.expand_as(sims))
        count = mask.sum(-1, keepdim=True)
        n = count.clamp(min=1)
        max_sim = sims.masked_fill(~valid, -1.0).amax(-1, keepdim=True) * (count > 0)
        mean_sim = (sims * mask).sum(-1, keepdim=True) / n
        return [hist / n, max_sim.expand(*sims.shape[:2], 1), mean_sim]


class OverArch(nn.Module):
    """deep: (R, C, in_dim) -> MLP -> (R, C); wide: (R, C, n_dense) -> linear -> (R, C). The wide part
    lets strong dense signals be learnt before the deep part's id embeddings memorise the few clicks."""

    def __init__(self, in_dim: int, n_dense: int, cfg: RankerConfig):
        super().__init__()
        self.wide = nn.Linear(n_dense, 1)
        self.mlp = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(in_dim, cfg.hidden), nn.ReLU(),
                                 nn.Linear(cfg.hidden, cfg.hidden // 2), nn.ReLU(), nn.Linear(cfg.hidden // 2, 1))

    def forward(self, deep: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
        return self.mlp(deep).squeeze(-1) + self.wide(dense).squeeze(-1)


class CtrRanker(nn.Module):
    """The whole network: logits (R, C) from a RankerBatch (see the module docstring)."""

    def __init__(self, sizes: TableSizes, cfg: RankerConfig, content_dim: int, n_slots: int):
        super().__init__()
        d, self.cfg = cfg.embedding_dim, cfg
        self.ids = IdEmbeddings(sizes, d)
        self.behaviour = BehaviourAttention(sizes, d)
        in_dim, n_dense = 5 * d + 4 * d + N_MODALITIES, N_MODALITIES
        self.content = ContentFeatures(content_dim, d, cfg.histogram_bins) if cfg.use_embeddings else None
        if cfg.use_embeddings:
            in_dim += 2 * d + cfg.histogram_bins + 3
            n_dense += cfg.histogram_bins + 3
        self.log = None
        if sizes.log is not None:  # what a real log adds (adsim replay)
            self.log = LogFeatures(sizes.log, sizes.leaves, sizes.brands, d)
            in_dim += self.log.deep_dim
            n_dense += self.log.dense_dim
        self.over = OverArch(in_dim, n_dense, cfg)
        self.position_bias = nn.Embedding(n_slots, 1)
        nn.init.zeros_(self.position_bias.weight)

    def forward(self, b: RankerBatch, with_position: bool = False) -> torch.Tensor:
        r, c = b.item.shape
        user, ad = self.ids(b)
        interest, target = self.behaviour(b)
        modality = nn.functional.one_hot(b.modality, N_MODALITIES).float()[:, None].expand(r, c, -1)
        parts = [user[:, None].expand(r, c, -1), *ad.values(), interest, target, modality]
        dense = [modality]
        if self.content is not None:
            moon = self.content(b)
            parts += moon
            dense += moon[2:]  # histogram, max, mean and query similarity
        if self.log is not None:
            deep, log_dense = self.log(b)
            parts += deep
            dense += log_dense
        logit = self.over(torch.cat(parts, -1), torch.cat(dense, -1))
        if with_position:
            logit = logit + self.position_bias(b.position).squeeze(-1)
        return logit
