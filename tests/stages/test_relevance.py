"""The relevance model: pair features, learning a relevance signal, reproducibility."""

import numpy as np
import pytest
import torch

from adsim.core.config import RelevanceConfig
from adsim.stats.model_metrics import auc
from stages.lexical import LexicalIndex
from stages.relevance import RelevanceModel, pair_features

DIM = 8


def _pairs(n_queries: int, seed: int):
    """Queries whose relevant items are the ones closest to them: the label is cosine > 0.2."""
    rng = np.random.default_rng(seed)
    items = rng.normal(size=(200, DIM)).astype(np.float32)
    items /= np.linalg.norm(items, axis=1, keepdims=True)
    query = rng.normal(size=(n_queries, DIM)).astype(np.float32)
    query /= np.linalg.norm(query, axis=1, keepdims=True)
    cand = rng.integers(0, 200, (n_queries, 6))
    lexical = LexicalIndex(np.array([f"item{i}" for i in range(200)], dtype=object), np.ones(200, bool))
    feats = pair_features(query, items, np.array([""] * n_queries, dtype=object), cand, np.zeros(n_queries, np.int8), lexical)
    grade = np.where(np.einsum("qd,qcd->qc", query, items[cand]) > 0.2, 3, 0)
    return feats, grade


def test_pair_features_shape_and_empty_candidates():
    feats, _ = _pairs(5, 0)
    x = feats.tensor()
    assert x.shape == (5 * 6, DIM + 6)
    feats.items[0, 0] = -1
    assert torch.all(feats.tensor()[0, : DIM + 3] == 0)  # an empty slot has no similarity or overlap


def test_relevance_model_learns_and_is_reproducible():
    cfg = RelevanceConfig(epochs=6, hidden=32, batch_size=128)
    train, train_grade = _pairs(1500, 1)
    test, test_grade = _pairs(300, 2)
    state = torch.get_rng_state()
    model = RelevanceModel(cfg, DIM, seed=3).fit(train, train_grade)
    assert torch.equal(torch.get_rng_state(), state)  # it trained on its own random stream
    score = model.score(test)
    assert auc(test_grade.reshape(-1) >= 2, score) > 0.9
    again = RelevanceModel(cfg, DIM, seed=3).fit(train, train_grade).score(test)
    assert np.array_equal(score, again)
    other = RelevanceModel(cfg, DIM, seed=4).fit(train, train_grade).score(test)
    assert not np.array_equal(score, other)


def test_serving_scores_equal_the_networks_forward_on_the_pair_matrix():
    """The folded first layer and the request blocks give the logits of forward(tensor())."""
    feats, _ = _pairs(37, 3)
    feats.items[0, :3] = -1
    feats.lexical[:] = np.random.default_rng(0).random(feats.lexical.shape).astype(np.float32) * (feats.items >= 0)[..., None]
    model = RelevanceModel(RelevanceConfig(hidden=16), DIM, seed=0)
    with torch.no_grad():
        for p in model.net.parameters():
            p.add_(0.3 * torch.randn_like(p))
        whole = model.net(feats.tensor())
        for block in (1, 5, 64):
            assert torch.allclose(model.net.score_pairs(feats, block=block), whole, atol=1e-5)


@pytest.mark.gpu
def test_relevance_scores_on_cuda_match_the_cpu():
    from stages.relevance import RelevanceNet
    feats, _ = _pairs(50, 3)
    torch.manual_seed(0)
    net = RelevanceNet(DIM, 16).eval()
    with torch.no_grad():
        cpu = net.score_pairs(feats)
        gpu = net.to("cuda").score_pairs(feats)
    assert gpu.device.type == "cuda" and torch.allclose(gpu.cpu(), cpu, atol=1e-5)
