"""Row-wise top-k of dense scores by one sort of packed integer keys (no argsort).

A float32's bits, with the sign bit folded, order as the float does; packing them (inverted, for
descending order) above the column index gives keys whose ascending order is the descending score
order with ties to the lower column: exactly a stable argsort of -scores, several times faster.
"""

from __future__ import annotations

import numpy as np


def descending_keys(scores: np.ndarray) -> tuple[np.ndarray, int]:
    """(R, C) float scores (no NaN) -> int64 keys (R, C) ordered as (-score, column) and the number
    of low bits that hold the column."""
    c = scores.shape[1]
    col_bits = max(1, (c - 1).bit_length())
    # + 0.0 turns -0.0 into 0.0, which a float comparison treats as equal.
    bits = (np.ascontiguousarray(scores, dtype=np.float32) + np.float32(0.0)).view(np.int32).astype(np.int64)
    ordered = bits ^ ((bits >> 31) & 0x7FFFFFFF)  # signed integers in the floats' order
    return ((0x7FFFFFFF - ordered) << col_bits) | np.arange(c, dtype=np.int64), col_bits


def row_top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices (R, min(k, C)) of each row's largest scores, best first, ties to the lower
    column: `np.argsort(-scores, axis=1, kind="stable")[:, :k]`."""
    if scores.ndim != 2:
        raise ValueError(f"row_top_k needs (R, C) scores, got shape {scores.shape}")
    k = min(k, scores.shape[1])
    if k <= 0:
        return np.zeros((scores.shape[0], 0), dtype=np.intp)
    key, col_bits = descending_keys(scores)
    if k < key.shape[1]:
        key = np.partition(key, k - 1, axis=1)[:, :k]
    key.sort(axis=1)
    return (key & ((1 << col_bits) - 1)).astype(np.intp)


def first_k_per_row(row: np.ndarray, col: np.ndarray, score: np.ndarray, n_rows: int, k: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Sparse entries already in row order, best first within each row, as (n_rows, k) scores and
    column ids: each row's first k entries; 0 / -1 where a row has fewer."""
    rank = np.arange(len(row)) - np.searchsorted(row, np.arange(n_rows))[row]
    sel = rank < k
    ids = np.full((n_rows, k), -1, dtype=np.int32)
    scores = np.zeros((n_rows, k), dtype=np.float32)
    ids[row[sel], rank[sel]] = col[sel]
    scores[row[sel], rank[sel]] = score[sel]
    return scores, ids
