"""Candidate filters: the trained relevance model's cut, and the bootstrap's retrieval-order cut.

Both keep at most `max_candidates` per request, best first, as the `CandidateFilter` role asks.
"""

from __future__ import annotations

import numpy as np

from adsim.core.config import RelevanceConfig
from stages.interfaces import Kept, QueryBatch
from stages.lexical import LexicalIndex
from stages.relevance import RelevanceModel, pair_features
from stages.retrieval import Candidates
from stages.topk import row_top_k


def filter_and_truncate(scores: np.ndarray, valid: np.ndarray, threshold: float, keep: int) -> np.ndarray:
    """Column indices (R, keep) of the best-scoring candidates at or above `threshold`; -1 pads."""
    masked = np.where(valid & (scores >= threshold), scores, -np.inf)
    order = row_top_k(masked, keep)
    ok = np.isfinite(np.take_along_axis(masked, order, 1))
    return np.where(ok, order, -1)


def kept(candidates: Candidates, columns: np.ndarray, score: np.ndarray) -> Kept:
    items = np.where(columns >= 0, np.take_along_axis(candidates.item, np.maximum(columns, 0), 1), -1)
    return Kept(columns=columns, items=items, score=score)


class RelevanceFilter:
    """Keeps candidates the relevance model finds relevant (P >= threshold), the best first."""

    def __init__(self, model: RelevanceModel, item_emb: np.ndarray, cfg: RelevanceConfig):
        self.model, self.item_emb, self.cfg = model, item_emb, cfg

    def __call__(self, queries: QueryBatch, candidates: Candidates, lexical: LexicalIndex) -> Kept:
        texts = candidates.lexical if candidates.lexical is not None else queries.text  # matched once, in retrieval
        feats = pair_features(queries.embedding, self.item_emb, texts, candidates.item, queries.modality, lexical)
        score = self.model.score(feats).reshape(candidates.item.shape)
        columns = filter_and_truncate(score, candidates.valid, self.cfg.threshold, self.cfg.max_candidates)
        return kept(candidates, columns, score)


class RetrievalOrderCut:
    """The bootstrap's filter: no relevance model, the first `max_candidates` in retrieval order."""

    def __init__(self, max_candidates: int):
        self.max_candidates = max_candidates

    def __call__(self, queries: QueryBatch, candidates: Candidates, lexical: LexicalIndex) -> Kept:
        r, n = candidates.item.shape
        order = -np.arange(n, dtype=np.float32)[None].repeat(r, 0)
        columns = filter_and_truncate(order, candidates.valid, -np.inf, self.max_candidates)
        return kept(candidates, columns, np.ones((r, n), dtype=np.float32))
