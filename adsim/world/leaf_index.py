"""Items grouped by leaf category, for uniform sampling within a leaf (targets, shown lists,
hard negatives). Reads only the catalogue's leaf, which every listing shows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from adsim.core.taxonomy import LEAVES


@dataclass(frozen=True)
class LeafIndex:
    """Items grouped by leaf (CSR), for uniform sampling within a leaf."""

    order: np.ndarray  # item ids sorted by leaf
    start: np.ndarray  # (n_leaves + 1,)

    @classmethod
    def build(cls, items, available: np.ndarray) -> "LeafIndex":
        ids = np.flatnonzero(available).astype(np.int32)
        ids = ids[np.argsort(items.leaf[ids], kind="stable")]
        counts = np.bincount(items.leaf[ids], minlength=len(LEAVES))
        return cls(order=ids, start=np.concatenate([[0], np.cumsum(counts)]))

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.start)

    def sample(self, rng: np.random.Generator, leaf: np.ndarray, k: int) -> np.ndarray:
        """(len(leaf), k) item ids drawn uniformly (with replacement) from each row's leaf."""
        u = rng.random((len(leaf), k))
        pos = self.start[leaf][:, None] + (u * self.counts[leaf][:, None]).astype(np.int64)
        return self.order[pos]
