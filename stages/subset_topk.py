"""Top-k title matches without sorting every match: a title's lexical score is the idf sum of the
subset of query tokens it holds, so each match is first reduced to that subset (a bit mask).

Per block of queries, one sparse product with the query tokens weighted 1, 2, 4, ... gives every
(query, title) match its mask. A query of m tokens has at most 2^m - 1 score levels, so per-row
histograms over masks, then over id buckets within the one level that crosses k, find exactly
which matches can be among the k best; only those (about k per row) are sorted. The order is
that of a full sort: score descending, ties to the lower id (`lexical.top_k_sparse_rows`, kept
as the reference and for rows with too many tokens). At a million titles a query matches about
50,000 of them; sorting them all took 13 ms a query, this about 1 ms.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from stages.topk import first_k_per_row, padded_rows

MAX_TOKENS = 10   # 2^10 masks a row; a block with a longer query takes the full sort
ID_BUCKETS = 256  # id histogram resolution within the crossing level


def subset_tables(q: sp.csr_matrix, idf: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    """The block's query matrix with each row's j-th token weighted 2^j, and each row's score of
    every mask (B, 2^m), summed in float32 in token order as the sparse product sums them."""
    n_tok = np.diff(q.indptr)
    pos = np.arange(q.nnz) - np.repeat(q.indptr[:-1], n_tok)
    bits = sp.csr_matrix((np.ldexp(1.0, pos).astype(np.float32), q.indices, q.indptr), shape=q.shape)
    m = int(n_tok.max(initial=0))
    table = np.zeros((q.shape[0], 1 << m), dtype=np.float32)
    tok = padded_rows(q, -1)
    has = tok >= 0
    masks = np.arange(1 << m)
    for j in range(m):  # cumulative in token order: the same float32 rounding as the product
        on = ((masks >> j) & 1).astype(bool)
        table[:, on] = table[:, on] + np.where(has[:, j], idf[tok[:, j]], 0.0).astype(np.float32)[:, None]
    return bits, table


def score_levels(table: np.ndarray) -> np.ndarray:
    """(B, M) each mask's level: how many distinct scores of its row are higher (equal scores share one)."""
    order = np.argsort(-table, axis=1, kind="stable")
    s = np.take_along_axis(table, order, 1)
    step = np.concatenate([np.zeros((len(s), 1), bool), s[:, 1:] != s[:, :-1]], 1)
    level = np.empty_like(order)
    np.put_along_axis(level, order, np.cumsum(step, 1), 1)
    return level


def _crossing(counts: np.ndarray, need: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of (B, G) counts in order, the first group at which the running count reaches
    `need`, and how many entries come before it; rows holding fewer get G."""
    cum = np.cumsum(counts, 1)
    cross = (cum < need[:, None]).sum(1)
    before = np.where(cross > 0, cum[np.arange(len(cum)), np.maximum(cross - 1, 0)], 0)
    return cross, before


KEEP, CROSSING, DROP = 0, 1, 2


def _mask_classes(level: np.ndarray, counts: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(B, M) whether each mask's matches are all kept, cross k (only their lowest ids are
    wanted) or are dropped, from each mask's `level`; and how many of the crossing level's
    matches each row needs."""
    n = level.shape[1]
    per_level = np.zeros_like(counts)
    np.add.at(per_level, (np.repeat(np.arange(len(level)), n), level.ravel()), counts.ravel())
    cross, before = _crossing(per_level, np.full(len(level), k))
    cls = np.where(level < cross[:, None], KEEP, np.where(level == cross[:, None], CROSSING, DROP)).astype(np.int8)
    return cls, k - before


def subset_top_k(q: sp.csr_matrix, idf: np.ndarray, terms_t: sp.csr_matrix, k: int, n_items: int
                 ) -> tuple[np.ndarray, np.ndarray] | None:
    """(scores, ids) (B, k) of a block of binary query rows against the binary token x item matrix
    `terms_t`; None when a row has more than MAX_TOKENS tokens."""
    b = q.shape[0]
    if b == 0 or int(np.diff(q.indptr).max(initial=0)) > MAX_TOKENS:
        return None
    bits, table = subset_tables(q, idf)
    n_masks = table.shape[1]
    hits = (bits @ terms_t).tocsr()
    row = np.repeat(np.arange(b, dtype=np.int32), np.diff(hits.indptr))
    group = row * n_masks + hits.data.astype(np.int32)  # (row, mask) of every match
    levels = score_levels(table)
    cls, need = _mask_classes(levels, np.bincount(group, minlength=b * n_masks).reshape(b, n_masks), k)
    c = cls.ravel()[group]
    at = np.flatnonzero(c == CROSSING)
    shift = max(0, (max(n_items - 1, 1)).bit_length() - int(np.log2(ID_BUCKETS)))
    bucket = hits.indices[at] >> shift
    counts = np.bincount(row[at] * ID_BUCKETS + bucket, minlength=b * ID_BUCKETS).reshape(b, ID_BUCKETS)
    cut, _ = _crossing(counts, need)
    keep = c == KEEP
    keep[at[bucket <= cut[row[at]]]] = True
    g = group[keep]
    row, col, score = row[keep].astype(np.int64), hits.indices[keep].astype(np.int64), table.ravel()[g]
    level = levels.ravel()[g].astype(np.int64)
    col_bits = max(1, (max(n_items - 1, 1)).bit_length())
    order = np.argsort((row << (col_bits + MAX_TOKENS + 1)) | (level << col_bits) | col)
    return first_k_per_row(row[order], col[order], score[order], b, k)
