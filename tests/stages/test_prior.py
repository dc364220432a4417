"""The bootstrap's prior ranker: monotone in similarity, exploration keyed by (request, item)."""

import numpy as np

from stages.interfaces import QueryBatch
from stages.prior import PriorRanker


def _queries(emb: np.ndarray, ids: np.ndarray) -> QueryBatch:
    r = len(ids)
    return QueryBatch(request_id=ids, user_id=np.zeros(r, np.int32), modality=np.zeros(r, np.int8),
                      text=np.array([""] * r, dtype=object), embedding=emb, behaviour=np.full((r, 2), -1, np.int32))


def test_prior_without_exploration_follows_similarity():
    rng = np.random.default_rng(0)
    items = rng.normal(size=(50, 8)).astype(np.float32)
    q = rng.normal(size=(4, 8)).astype(np.float32)
    cand = np.array([[1, 2, 3, -1]] * 4)
    p = PriorRanker(seed=1, item_emb=items, exploration=0.0).score(_queries(q, np.arange(4)), cand)
    sim = np.einsum("rd,rcd->rc", q, items[np.maximum(cand, 0)])
    assert (p[:, 3] == 0).all()
    for row, s in zip(p, sim):
        assert (np.argsort(row[:3]) == np.argsort(s[:3])).all()


def test_exploration_is_keyed_by_request_and_item_not_batch():
    rng = np.random.default_rng(0)
    items = rng.normal(size=(50, 8)).astype(np.float32)
    q = rng.normal(size=(6, 8)).astype(np.float32)
    cand = rng.integers(0, 50, (6, 5))
    ranker = PriorRanker(seed=1, item_emb=items, exploration=0.5)
    whole = ranker.score(_queries(q, np.arange(6)), cand)
    part = ranker.score(_queries(q[3:], np.arange(3, 6)), cand[3:])
    assert np.array_equal(whole[3:], part)
    calm = PriorRanker(seed=1, item_emb=items, exploration=0.0).score(_queries(q, np.arange(6)), cand)
    assert not np.allclose(whole, calm)
