"""Candidate filters: the relevance model's cut and the bootstrap's retrieval-order cut."""

import numpy as np
import pytest

from adsim.core.config import RelevanceConfig
from stages.filters import RelevanceFilter, RetrievalOrderCut, filter_and_truncate
from stages.interfaces import QueryBatch
from stages.lexical import LexicalIndex
from stages.retrieval import Candidates


def test_filter_and_truncate_keeps_best_above_threshold():
    scores = np.array([[0.9, 0.1, 0.5, 0.7], [0.1, 0.2, 0.0, 0.05]], np.float32)
    valid = np.array([[True, True, True, False], [True, True, True, True]])
    cols = filter_and_truncate(scores, valid, 0.3, keep=2)
    assert cols.tolist() == [[0, 2], [-1, -1]]


def _batch(r: int, dim: int = 4) -> QueryBatch:
    rng = np.random.default_rng(0)
    return QueryBatch(request_id=np.arange(r), user_id=np.arange(r, dtype=np.int32), modality=np.zeros(r, np.int8),
                      text=np.array(["red tee"] * r, dtype=object), embedding=rng.normal(size=(r, dim)).astype(np.float32),
                      behaviour=np.full((r, 3), -1, np.int32))


def _candidates(items: list[list[int]]) -> Candidates:
    item = np.array(items, np.int32)
    return Candidates(item=item, channel=np.where(item >= 0, 0, -1).astype(np.int8), score=np.zeros(item.shape, np.float32))


def test_retrieval_order_cut_keeps_the_first_valid_candidates():
    cands = _candidates([[7, 3, -1, 9, 4], [-1, -1, -1, -1, -1]])
    kept = RetrievalOrderCut(max_candidates=3)(_batch(2), cands, None)
    assert kept.columns.tolist() == [[0, 1, 3], [-1, -1, -1]]
    assert kept.items.tolist() == [[7, 3, 9], [-1, -1, -1]]
    assert kept.score.shape == cands.item.shape


class _FixedScores:
    """A stand-in relevance model that scores pairs by item id (the filter's logic under test)."""

    def score(self, features):
        return (features.items.reshape(-1) % 10 / 10).astype(np.float32)


@pytest.mark.parametrize("threshold, keep, expected", [
    (0.35, 2, [[9, 7]]), (0.35, 5, [[9, 7, 4, -1, -1]]), (0.95, 5, [[-1, -1, -1, -1, -1]]), (0.0, 1, [[9]]),
    (0.4, 5, [[9, 7, 4, -1, -1]]),  # a score equal to the threshold is kept
])
def test_relevance_filter_keeps_the_best_above_its_threshold(threshold, keep, expected):
    titles = np.array(["red tee"] * 10, dtype=object)
    cfg = RelevanceConfig(threshold=threshold, max_candidates=keep)
    item_emb = np.random.default_rng(1).normal(size=(10, 4)).astype(np.float32)
    flt = RelevanceFilter(_FixedScores(), item_emb, cfg)
    kept = flt(_batch(1), _candidates([[4, 9, 2, 7, -1]]), LexicalIndex(titles, np.ones(10, bool)))
    assert kept.items.tolist() == expected
    assert kept.score[0, 1] == pytest.approx(0.9)
