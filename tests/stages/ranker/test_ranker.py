"""The CTR ranker's named parts and the trained model (shapes from stages.ranker.arch)."""

import numpy as np
import pytest
import torch

from adsim.core.config import RankerConfig
from adsim.stats.model_metrics import auc
from stages.interfaces import QueryBatch
from stages.ranker.model import CtrModel
from stages.ranker.arch import BehaviourAttention, ContentFeatures, CtrRanker, IdEmbeddings, OverArch
from stages.ranker.features import ImpressionTable, RankerFeatures, TableSizes

SIZES = TableSizes(users=30, items=60, advertisers=7, brands=9, leaves=5)
E, L = 8, 6


def _features(seed: int = 0) -> RankerFeatures:
    rng = np.random.default_rng(seed)
    emb = rng.normal(size=(SIZES.items, E)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    return RankerFeatures(advertiser=rng.integers(0, SIZES.advertisers, SIZES.items), brand=rng.integers(0, SIZES.brands, SIZES.items),
                          leaf=rng.integers(0, SIZES.leaves, SIZES.items), item_emb=emb)


def _batch(r: int = 3, c: int = 4, seq_fill: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    behaviour = np.full((r, L), -1, np.int32)
    behaviour[:, L - seq_fill:] = rng.integers(0, SIZES.items, (r, seq_fill))
    items = rng.integers(0, SIZES.items, (r, c))
    q = rng.normal(size=(r, E)).astype(np.float32)
    return _features().batch(rng.integers(0, SIZES.users, r), np.zeros(r, np.int64), q, items, behaviour, L,
                             position=np.zeros((r, c), np.int64))


def test_id_embeddings_shapes():
    b = _batch()
    user, ad = IdEmbeddings(SIZES, 5)(b)
    assert user.shape == (3, 5) and set(ad) == {"item", "advertiser", "brand", "leaf"}
    assert all(v.shape == (3, 4, 5) for v in ad.values())


def test_behaviour_attention_ignores_padding():
    torch.manual_seed(0)
    part = BehaviourAttention(SIZES, 5)
    b = _batch(seq_fill=3)
    interest, target = part(b)
    assert interest.shape == target.shape == (3, 4, 10)
    b.seq_item[:, 3:] = (b.seq_item[:, 3:] + 7) % SIZES.items  # change only the padding positions
    again, _ = part(b)
    assert torch.allclose(interest, again)


def test_behaviour_attention_weighs_only_valid_positions():
    """With one logged item, all attention is on it: the interest is that item's embedding."""
    part = BehaviourAttention(SIZES, 5)
    b = _batch(seq_fill=1)
    interest, _ = part(b)
    seq, _ = part.embed(b)
    assert torch.allclose(interest, seq[:, :1].expand(-1, 4, -1), atol=1e-6)


def test_behaviour_attention_with_no_behaviour_is_zero():
    interest, _ = BehaviourAttention(SIZES, 5)(_batch(seq_fill=0))
    assert torch.all(interest == 0)


def test_content_features_match_their_definitions():
    part = ContentFeatures(E, 5, bins=4)
    b = _batch(seq_fill=4)
    target, pooled, hist, max_sim, mean_sim, query_sim = part(b)
    assert target.shape == pooled.shape == (3, 4, 5) and hist.shape == (3, 4, 4)
    sims = torch.einsum("rce,rle->rcl", b.item_emb, b.seq_emb[:, :4])  # the 4 valid positions come first
    assert torch.allclose(hist.sum(-1), torch.ones(3, 4))
    assert torch.allclose(max_sim[..., 0], sims.amax(-1), atol=1e-6) and torch.allclose(mean_sim[..., 0], sims.mean(-1), atol=1e-6)
    assert torch.equal(query_sim[..., 0], b.query_sim)


def test_over_arch_adds_deep_and_wide_logits():
    cfg = RankerConfig(hidden=16, dropout=0.0)
    arch = OverArch(in_dim=7, n_dense=3, cfg=cfg).eval()
    deep, dense = torch.randn(2, 4, 7), torch.randn(2, 4, 3)
    out = arch(deep, dense)
    assert out.shape == (2, 4)
    assert torch.allclose(out, arch.mlp(deep).squeeze(-1) + arch.wide(dense).squeeze(-1))


@pytest.mark.parametrize("use_embeddings", [True, False])
def test_position_bias_applies_in_training_only(use_embeddings):
    net = CtrRanker(SIZES, RankerConfig(use_embeddings=use_embeddings, dropout=0.0), E, n_slots=4).eval()
    with torch.no_grad():
        net.position_bias.weight.fill_(0.7)
        b = _batch()
        assert torch.allclose(net(b, with_position=True), net(b) + 0.7)
    assert (net.content is not None) == use_embeddings


def _impressions(n: int, seed: int) -> ImpressionTable:
    """Clicks that follow the query-item similarity in the content embeddings (a signal to learn)."""
    rng = np.random.default_rng(seed)
    feats = _features()
    item = rng.integers(0, SIZES.items, n)
    q = feats.item_emb[rng.integers(0, SIZES.items, n)] + 0.3 * rng.normal(size=(n, E)).astype(np.float32)
    sim = (q * feats.item_emb[item]).sum(1)
    click = rng.random(n) < 1 / (1 + np.exp(-(4 * sim - 3)))
    seq = rng.integers(0, SIZES.items, (SIZES.users, L)).astype(np.int32)
    return ImpressionTable(user=rng.integers(0, SIZES.users, n), modality=np.zeros(n, np.int64), query_emb=q,
                           query_row=np.arange(n), item=item, position=rng.integers(0, 4, n), click=click, seq=seq)


def test_ctr_model_learns_and_serves_position_free_scores():
    cfg = RankerConfig(epochs=3, batch_size=64, hidden=32)
    state = torch.get_rng_state()
    model = CtrModel(cfg, SIZES, _features(), n_slots=4, seed=0).fit(_impressions(4000, 1))
    assert torch.equal(torch.get_rng_state(), state)  # its initialisation and dropout used its own stream
    held = _impressions(2000, 2)
    assert auc(held.click, model.predict_logged(held)) > 0.7
    items = np.array([[3, 5, -1]])
    queries = QueryBatch(request_id=np.arange(1), user_id=np.zeros(1, np.int32), modality=np.zeros(1, np.int8),
                         text=np.array([""], dtype=object), embedding=held.query_emb[held.query_row[:1]], behaviour=held.seq[:1])
    score = model.score(queries, items)
    assert score.shape == (1, 3) and score[0, 2] == 0 and (score[0, :2] > 0).all()
    again = CtrModel(cfg, SIZES, _features(), n_slots=4, seed=0).fit(_impressions(4000, 1))
    assert np.array_equal(again.score(queries, items), score)


@pytest.mark.parametrize("use_embeddings, seq_fill", [(True, 4), (False, 4), (True, 0)])
def test_serving_pass_equals_the_networks_forward_in_the_top_slot(use_embeddings, seq_fill):
    """The per-ad tables and the reordered pass compute what `CtrRanker.forward` computes (random,
    non-zero weights everywhere, so a wrong column or a lost bias shows)."""
    from stages.ranker.serving import item_tables, serve_logits
    torch.manual_seed(1)
    net = CtrRanker(SIZES, RankerConfig(use_embeddings=use_embeddings, dropout=0.0), E, n_slots=4).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.3 * torch.randn_like(p))
        b = _batch(r=5, c=7, seq_fill=seq_fill)
        tables = item_tables(net, _features(), torch.device("cpu"))
        assert torch.allclose(serve_logits(net, b, tables), net(b, with_position=True), atol=1e-5)


def test_served_scores_equal_the_full_forward_whatever_the_block_order():
    """`score` goes through blocks sorted by behaviour length and trims positions that are padding
    in every row of a block; each request's score must be what the untrimmed forward gives."""
    from stages.ranker.calibration import platt_apply
    torch.manual_seed(2)
    model = CtrModel(RankerConfig(dropout=0.0, seq_len=L), SIZES, _features(), n_slots=4, seed=0)
    with torch.no_grad():
        for p in model.net.parameters():
            p.add_(0.3 * torch.randn_like(p))
    model.deploy()
    rng = np.random.default_rng(3)
    r, c = 23, 5
    behaviour = np.full((r, L + 2), -1, np.int32)
    for i, fill in enumerate(rng.integers(0, L + 3, r)):   # 0 .. L + 2 items, some beyond the cap
        behaviour[i, L + 2 - fill:] = rng.integers(0, SIZES.items, fill)
    items = rng.integers(-1, SIZES.items, (r, c))
    q = rng.normal(size=(r, E)).astype(np.float32)
    queries = QueryBatch(request_id=np.arange(r), user_id=rng.integers(0, SIZES.users, r).astype(np.int32),
                         modality=np.zeros(r, np.int8), text=np.array([""] * r, dtype=object), embedding=q, behaviour=behaviour)
    b = _features().batch(queries.user_id, queries.modality, q, items, behaviour, L, position=np.zeros((r, c), np.int64))
    with torch.no_grad():
        full = platt_apply(model.net(b, with_position=True).numpy(), model.platt)
    served = model.score(queries, items, block=4)
    assert np.allclose(served, np.where(items >= 0, full, 0.0), atol=1e-5)


@pytest.mark.gpu
def test_serving_pass_on_cuda_matches_the_cpu():
    from stages.ranker.serving import item_tables, serve_logits
    torch.manual_seed(4)
    net = CtrRanker(SIZES, RankerConfig(dropout=0.0), E, n_slots=4).eval()
    b, cuda = _batch(r=6, c=5), torch.device("cuda")
    with torch.no_grad():
        cpu = serve_logits(net, b, item_tables(net, _features(), torch.device("cpu")))
        net = net.to(cuda)
        gpu = serve_logits(net, b.to(cuda), item_tables(net, _features(), cuda))
    assert gpu.device.type == "cuda" and torch.allclose(gpu.cpu(), cpu, atol=1e-4)
