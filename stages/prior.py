"""The bootstrap's ranker: a similarity prior with log-normal exploration noise.

A day-0 system has no click model yet; it ranks by a sigmoid of the query-item embedding
similarity, multiplied by log-normal noise (mean 1) so its logs cover more than its own top
choices. The noise is keyed by (request, item) like common random numbers, so it does not depend
on batch order.
"""

from __future__ import annotations

import numpy as np

from adsim.core.rng import box_muller, uniform
from stages.interfaces import QueryBatch


def prior_pctr(seed: int, request_ids: np.ndarray, items: np.ndarray, similarity: np.ndarray, exploration: float) -> np.ndarray:
    """(R, C) prior pCTR of candidates `items` (-1 = none, scored 0) with similarities `similarity`."""
    u1 = uniform(seed, "explore-1", request_ids[:, None], np.maximum(items, 0))
    u2 = uniform(seed, "explore-2", request_ids[:, None], np.maximum(items, 0))
    z = box_muller(u1, u2)
    base = 1 / (1 + np.exp(-(-5.0 + 8.0 * similarity)))
    return np.where(items >= 0, base * np.exp(exploration * z - exploration ** 2 / 2), 0).astype(np.float32)


class PriorRanker:
    """Scores candidates by `prior_pctr` of their similarity to the query in the given embeddings."""

    def __init__(self, seed: int, item_emb: np.ndarray, exploration: float):
        self.seed, self.item_emb, self.exploration = seed, item_emb, exploration

    def score(self, queries: QueryBatch, items: np.ndarray) -> np.ndarray:
        sim = np.einsum("rd,rcd->rc", queries.embedding, self.item_emb[np.maximum(items, 0)])
        return prior_pctr(self.seed, queries.request_id, items, sim, self.exploration)
