"""The embedding provider interface: every encoder the ad system can use looks like this.

A provider gives float32, L2-normalised item embeddings for the whole catalogue and query
embeddings for requests (text, image or both, per the request's modality). The stages only
ever see these arrays, never the world's ground truth.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from adsim.core.errors import DataError


@runtime_checkable
class EmbeddingProvider(Protocol):
    name: str
    dim: int

    def item_embeddings(self) -> np.ndarray:
        """(n_items, dim) float32, rows L2-normalised, row i = item id i."""

    def query_embeddings(self, request_ids: np.ndarray) -> np.ndarray:
        """(len(request_ids), dim) float32, rows L2-normalised."""


def normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def check_embeddings(x: np.ndarray, rows: int, dim: int | None, what: str) -> np.ndarray:
    """Validate shape, dtype and finiteness; return float32. One DataError names the problem."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise DataError(f"{what}: expected a 2-D array, got shape {x.shape}")
    if x.shape[0] != rows:
        raise DataError(f"{what}: expected {rows} rows, got {x.shape[0]}")
    if dim is not None and x.shape[1] != dim:
        raise DataError(f"{what}: expected dimension {dim}, got {x.shape[1]}")
    if not np.issubdtype(x.dtype, np.floating):
        raise DataError(f"{what}: expected floating-point values, got {x.dtype}")
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        raise DataError(f"{what}: {int(bad.sum())} rows contain NaN or infinite values (first row {int(np.flatnonzero(bad)[0])})")
    if (np.linalg.norm(x, axis=1) == 0).any():
        raise DataError(f"{what}: some rows are all zeros")
    return x.astype(np.float32, copy=False)
