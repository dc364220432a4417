"""The ranker's serving pass: what depends on the ad alone is computed once per deployment.

Every ad-only input of the deep part's first layer (id embeddings of the item, its advertiser,
brand and leaf; its target embedding; MOON's projection of its content vector) enters that layer
linearly, so `item_tables` pushes the whole catalogue through those columns once (an (n_items, H)
table) together with the attention's view of each target (n_items, 2D). `serve_logits` then reads
them by id and adds the request- and pair-dependent parts. It computes what `CtrRanker.forward`
computes for slot 0 (a test holds them equal to float tolerance), with a fraction of the work.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from adsim.core.vocab import N_MODALITIES
from stages.ranker.arch import AD_FEATURES, CtrRanker
from stages.ranker.attention import masked_softmax
from stages.ranker.features import RankerBatch, RankerFeatures

TABLE_BLOCK = 65_536  # items per pass when the tables are built
PAIR_INPUTS = ("interest", "moon_rest")  # first-layer inputs that depend on the (request, ad) pair


@dataclass(frozen=True)
class ItemTables:
    """Per-ad parts of the ranker, by item id."""

    hidden: torch.Tensor      # (n_items, H): the ad-only columns of the first deep layer, with its bias
    att_target: torch.Tensor  # (n_items, 2D): attention(target embedding)
    pair_weight: torch.Tensor  # (P, H): that layer's columns of the pair inputs [interest, MOON rest], transposed


def _columns(net: CtrRanker) -> dict[str, slice]:
    """Where each part sits in the deep part's input (the order of CtrRanker.forward's concat)."""
    d, m, bins = net.cfg.embedding_dim, N_MODALITIES, net.cfg.histogram_bins
    cols = {"user": slice(0, d), "ad": slice(d, 5 * d), "interest": slice(5 * d, 7 * d),
            "target": slice(7 * d, 9 * d), "modality": slice(9 * d, 9 * d + m)}
    if net.content is not None:
        cols |= {"moon_target": slice(9 * d + m, 10 * d + m), "moon_rest": slice(10 * d + m, 11 * d + m + bins + 3)}
    return cols


@torch.no_grad()
def item_tables(net: CtrRanker, f: RankerFeatures, device: torch.device) -> ItemTables:
    """Every item through the ad-only columns (see the module docstring), TABLE_BLOCK at a time."""
    first, cols = net.over.mlp[1], _columns(net)
    w = first.weight
    hidden, att = [], []
    for s in range(0, len(f.leaf), TABLE_BLOCK):
        item = torch.arange(s, min(s + TABLE_BLOCK, len(f.leaf)), device=device)
        meta = {"item": item, "advertiser": torch.from_numpy(f.advertiser[s:s + len(item)].astype(np.int64)).to(device),
                "brand": torch.from_numpy(f.brand[s:s + len(item)].astype(np.int64)).to(device),
                "leaf": torch.from_numpy(f.leaf[s:s + len(item)].astype(np.int64)).to(device)}
        ad = net.ids.ad_embeddings(meta)
        target = net.behaviour.target(item, meta["leaf"])
        h = torch.cat([ad[k] for k in AD_FEATURES], -1) @ w[:, cols["ad"]].T + target @ w[:, cols["target"]].T + first.bias
        if net.content is not None:
            emb = torch.from_numpy(np.ascontiguousarray(f.item_emb[s:s + len(item)], dtype=np.float32)).to(device)
            h += net.content.moon_target(emb) @ w[:, cols["moon_target"]].T
        hidden.append(h)
        att.append(net.behaviour.attention(target))
    pair = [w[:, cols[k]] for k in PAIR_INPUTS if k in cols]
    return ItemTables(hidden=torch.cat(hidden), att_target=torch.cat(att), pair_weight=torch.cat(pair, 1).T.contiguous())


def _content_part(net: CtrRanker, b: RankerBatch) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """MOON's request-dependent inputs: [pooled sequence (R, C, D), histogram, max, mean, query
    similarity]; the pooled sequence is projected before pooling (L rows, not C)."""
    c = net.content
    valid = b.seq_valid[:, None, :]
    sims = torch.bmm(b.item_emb, b.seq_emb.transpose(1, 2))                       # (R, C, L)
    weights = masked_softmax(sims * c.moon_temperature, valid)
    pooled = torch.bmm(weights, b.seq_emb @ c.moon_pool.weight.T) + c.moon_pool.bias
    dense = [*c.similarity_stats(sims, valid), b.query_sim[..., None]]
    return torch.cat([pooled, *dense], -1), dense


@torch.no_grad()
def serve_logits(net: CtrRanker, b: RankerBatch, t: ItemTables) -> torch.Tensor:
    """Logits (R, C) of the candidates in the top slot, as `net(b, with_position=True)` with b.position 0."""
    r, c = b.item.shape
    first, cols = net.over.mlp[1], _columns(net)
    w = first.weight
    seq = net.behaviour.sequence(b)
    interest = net.behaviour.pool(nn.functional.embedding(b.item, t.att_target), seq, b.seq_valid)
    modality = nn.functional.one_hot(b.modality, N_MODALITIES).float()
    per_request = net.ids.user_embeddings(b.user) @ w[:, cols["user"]].T + modality @ w[:, cols["modality"]].T
    pair, dense = [interest], [modality[:, None].expand(r, c, -1)]
    if net.content is not None:
        rest, moon_dense = _content_part(net, b)
        pair.append(rest)
        dense += moon_dense
    x = torch.cat(pair, -1)
    # One addmm: the ad's table row plus every pair input through its columns (no (R, C, H) partial sums).
    h = torch.addmm(nn.functional.embedding(b.item.reshape(-1), t.hidden), x.reshape(r * c, -1), t.pair_weight)
    h = h.view(r, c, -1).add_(per_request[:, None, :])
    mlp = net.over.mlp
    deep = mlp[5](torch.relu_(mlp[3](torch.relu_(h)))).squeeze(-1)
    return deep + net.over.wide(torch.cat(dense, -1)).squeeze(-1) + net.position_bias.weight[0, 0]
