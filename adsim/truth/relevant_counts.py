"""How many listed items are relevant (grade >= 2) to each query: the denominator of retrieval
recall, counted without scoring every item of the query's leaf.

Grade >= 2 needs the query's leaf and at least m = s - max(1, s // 2) matches among the s
attributes the query specifies (`ground_truth.relevance`). With N(T), the number of items of the
leaf matching every attribute of T, the number with at least m matches among A is

    sum over T subset of A, |T| >= m, of (-1)^(|T| - m) * C(|T| - 1, m - 1) * N(T)    (m >= 1)

(inclusion-exclusion over the matched set) and N({}) for m <= 0. N(T) comes from one count table per
attribute subset (32), built once per day's catalogue; a query reads at most 32 of them. The counts
are exact: a test holds them equal to scoring every pair.
"""

from __future__ import annotations

from itertools import combinations
from math import comb

import numpy as np

from adsim.truth.ground_truth import Intents

ATTRIBUTES = ("colour", "pattern", "style", "brand", "price_tier")
RADIX = (1 << 8, 1 << 8, 1 << 8, 1 << 16, 1 << 8)  # leaf uses the bits above
SUBSETS = [t for k in range(len(ATTRIBUTES) + 1) for t in combinations(range(len(ATTRIBUTES)), k)]
# C(|T| - 1, m - 1) by (|T|, m): the inclusion-exclusion weight of a subset of size |T| for m matches
WEIGHT = np.array([[comb(t - 1, m - 1) if t >= 1 and m >= 1 else 0 for m in range(len(ATTRIBUTES) + 1)]
                   for t in range(len(ATTRIBUTES) + 1)])


def _key(leaf: np.ndarray, values: list[np.ndarray], subset: tuple[int, ...]) -> np.ndarray:
    """int64 key of (leaf, the subset's attribute values); attributes outside the subset are 0."""
    key = leaf.astype(np.int64)
    for j in range(len(ATTRIBUTES)):
        key = key * RADIX[j] + (values[j].astype(np.int64) + 1 if j in subset else 0)
    return key


class RelevantCounter:
    """Count tables of one day's available catalogue; `counts(intents)` per batch of queries."""

    def __init__(self, items, available: np.ndarray):
        ids = np.flatnonzero(available)
        leaf, values = items.leaf[ids], [getattr(items, a)[ids] for a in ATTRIBUTES]
        self.tables = {}
        for t in SUBSETS:
            keys, counts = np.unique(_key(leaf, values, t), return_counts=True)
            self.tables[t] = (keys, counts)

    def _n(self, subset: tuple[int, ...], leaf: np.ndarray, values: list[np.ndarray]) -> np.ndarray:
        keys, counts = self.tables[subset]
        want = _key(leaf, values, subset)
        if len(keys) == 0:
            return np.zeros(len(want), np.int64)
        pos = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
        return np.where(keys[pos] == want, counts[pos], 0)

    def counts(self, intents: Intents) -> np.ndarray:
        """(Q,) items with grade >= 2 for each query."""
        values = [getattr(intents, a) for a in ATTRIBUTES]
        given = np.stack([v >= 0 for v in values], 1)            # (Q, 5): the specified attributes
        s = given.sum(1)
        m = s - np.maximum(1, s // 2)                            # matches needed
        out = np.where(m <= 0, self._n((), intents.leaf, values), 0).astype(np.int64)
        for t in SUBSETS[1:]:
            size = len(t)
            rows = np.flatnonzero(given[:, list(t)].all(1) & (m >= 1) & (size >= m))
            if len(rows) == 0:
                continue
            mr = m[rows]
            sign = np.where((size - mr) % 2, -1, 1)
            weight = sign * WEIGHT[size, mr]
            out[rows] += weight * self._n(t, intents.leaf[rows], [v[rows] for v in values])
        return out
