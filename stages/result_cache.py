"""A bounded cache of per-query top-k results keyed by the query's token set, as search engines
keep results of repeated queries: a day of a million requests holds about 180,000 distinct
token sets, so most lexical searches are answered from here.

A token set's key is two 64-bit sums of random per-token words (order-free, collision odds about
2^-128 for a pair of sets); keys are held sorted, results in arrays filled in arrival order, so
lookups and inserts are vectorised. Results depend on the query and the catalogue only, and a
cache lives with one day's index, so answers are those the search would compute.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

KEY_SEED = 0x5EED_1E1  # fixed: the keys only place entries, they never change a result


class ResultCache:
    """At most `capacity` token sets' (scores, ids) rows of width k."""

    def __init__(self, n_tokens: int, k: int, capacity: int):
        rng = np.random.default_rng(KEY_SEED)
        self.words = rng.integers(0, 2 ** 63, size=(2, n_tokens), dtype=np.int64).astype(np.uint64) * np.uint64(2) + np.uint64(1)
        self.k, self.capacity = k, capacity
        self.keys = np.zeros((0, 2), dtype=np.uint64)   # sorted by their first word
        self.slots = np.zeros(0, dtype=np.int64)
        self.size = 0
        self._scores = np.zeros((0, k), dtype=np.float32)  # grown by doubling; rows [0, size) are filled
        self._ids = np.zeros((0, k), dtype=np.int32)
        self.hits = self.misses = 0

    def row_keys(self, terms: sp.csr_matrix) -> np.ndarray:
        """(R, 2) uint64 keys of the rows' token sets (wrap-around sums)."""
        out = np.zeros((terms.shape[0], 2), dtype=np.uint64)
        for j in range(2):
            c = np.concatenate([np.zeros(1, np.uint64), np.cumsum(self.words[j][terms.indices], dtype=np.uint64)])
            out[:, j] = c[terms.indptr[1:]] - c[terms.indptr[:-1]]
        return out

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """Each key's slot in the result arrays, -1 where absent."""
        if self.size == 0:
            self.misses += len(keys)
            return np.full(len(keys), -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.keys[:, 0], keys[:, 0]), self.size - 1)
        found = (self.keys[pos, 0] == keys[:, 0]) & (self.keys[pos, 1] == keys[:, 1])
        self.hits, self.misses = self.hits + int(found.sum()), self.misses + int((~found).sum())
        return np.where(found, self.slots[pos], -1)

    def results(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._scores[slots], self._ids[slots]

    def insert(self, keys: np.ndarray, scores: np.ndarray, ids: np.ndarray) -> None:
        """Add distinct new keys' results while there is room (the first arrivals stay)."""
        n = min(len(keys), self.capacity - self.size)
        if n <= 0:
            return
        if self.size + n > len(self._scores):
            grown = min(self.capacity, max(2 * len(self._scores), self.size + n, 1024))
            self._scores = np.concatenate([self._scores[:self.size], np.zeros((grown - self.size, self.k), np.float32)])
            self._ids = np.concatenate([self._ids[:self.size], np.zeros((grown - self.size, self.k), np.int32)])
        slots = self.size + np.arange(n)
        self._scores[slots], self._ids[slots] = scores[:n], ids[:n]
        order = np.argsort(keys[:n, 0], kind="stable")
        at = np.searchsorted(self.keys[:, 0], keys[:n, 0][order])
        self.keys = np.insert(self.keys, at, keys[:n][order], axis=0)
        self.slots = np.insert(self.slots, at, slots[order])
        self.size += n

    @property
    def nbytes(self) -> int:
        return self._scores.nbytes + self._ids.nbytes + self.keys.nbytes + self.slots.nbytes
