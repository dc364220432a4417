"""Top-k title matches that read only the postings of a query's rarest tokens (MaxScore).

A title's lexical score is the idf sum of the query tokens it holds. Order a query's tokens by
idf, rarest first, and call the first i of them essential. Every title holding an essential
token is scored in full from its own token list; a title holding none of them holds at most the
other tokens, so it scores at most their idf sum (float32 sums of non-negative terms only grow
as terms are added). When the k-th best candidate scores strictly above that sum, no other title
can enter the top k and the answer is exact, in the order of a full sort: score descending, ties
to the lower id. A one-token query's answer is its posting list's first k titles.

At a million titles a distinct token set has about 54,000 postings. Were every row to read as
many postings as it needs, 61 % of the sets would be settled by their rarest token and 37 % by
the two rarest, reading a fifth of those postings; but scoring a candidate from its title costs a
few times what the exhaustive sparse product pays a match, so a row only tries tokens whose
postings are a small share of its own (`CANDIDATE_SHARE`). With these settings 57 % of sets are
settled and a set's search takes 0.82 of the exhaustive time (2,048 random distinct sets of a
million-ad world, one thread; a script outside the repository, docs/results/example-runs.md, "Benchmark"). Rows still
open go back to the caller's exhaustive search.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from stages.subset_topk import MAX_TOKENS, score_levels, subset_tables
from stages.topk import first_k_per_row, padded_rows

STEPS = 2                  # essential tokens tried before a row goes to the exhaustive search
CANDIDATE_SHARE = 0.15     # of a row's postings, the most its essential tokens' may hold
CHUNK_POSTINGS = 1 << 18   # candidate postings scored at once (each expands to its title's tokens)
SPAN = 512                 # rows of a chunk, first to last (its table of bits grows as their square)
LEVEL_BITS = MAX_TOKENS + 1  # a row has at most 2^MAX_TOKENS score levels


def ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The positions start, ..., start + length - 1 of every range, concatenated."""
    offset = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return offset + np.arange(int(lengths.sum()))


@dataclass(frozen=True)
class QueryBlock:
    """A block of binary query rows as MaxScore reads them."""

    tok: np.ndarray      # (B, m) token id at each position (the order `subset_tables` weights), -1 past the end
    n_tok: np.ndarray    # (B,)
    rarest: np.ndarray   # (B, m) positions by idf, rarest first (ties to the earlier position)
    table: np.ndarray    # (B, 2^m) float32 score of every mask of positions
    level: np.ndarray    # (B, 2^m) int64 rank of each mask's score among the row's distinct scores
    level_score: np.ndarray  # (B, 2^m) the score at each rank

    @classmethod
    def of(cls, q: sp.csr_matrix, idf: np.ndarray) -> "QueryBlock":
        n_tok = np.diff(q.indptr)
        tok = padded_rows(q, -1)
        has = tok >= 0
        rarest = np.argsort(np.where(has, -idf[np.maximum(tok, 0)], np.inf), axis=1, kind="stable")
        _, table = subset_tables(q, idf)
        level = score_levels(table).astype(np.int64)
        level_score = np.zeros_like(table)
        np.put_along_axis(level_score, level, table, 1)
        return cls(tok=tok, n_tok=n_tok, rarest=rarest, table=table, level=level, level_score=level_score)


def position_bits(positions: np.ndarray) -> np.ndarray:
    """(R, i) query positions -> (R,) int64 masks with those bits set."""
    return np.bitwise_or.reduce(np.left_shift(1, positions.astype(np.int64)), axis=1)


def title_masks(rows: np.ndarray, titles: np.ndarray, block: QueryBlock, title_tokens: np.ndarray, n_vocab: int) -> np.ndarray:
    """Each (row, title) candidate's mask of the row's query positions the title holds, read from
    the title's own tokens through a (rows, the rows' tokens) table of bits."""
    if not len(titles):
        return np.zeros(0, dtype=np.int64)
    lo, hi = int(rows.min()), int(rows.max()) + 1
    tok = block.tok[lo:hi]
    r, j = np.nonzero(tok >= 0)
    distinct = np.unique(tok[r, j])
    slot = np.full(n_vocab + 1, len(distinct), dtype=np.int64)  # tokens no row holds: the zero column
    slot[distinct] = np.arange(len(distinct))
    width = len(distinct) + 1
    bits = np.zeros((hi - lo) * width, dtype=np.int16)
    bits[r * width + slot[tok[r, j]]] = np.left_shift(1, j).astype(np.int16)
    return bits[((rows - lo) * width)[:, None] + slot[title_tokens[titles]]].sum(1, dtype=np.int64)  # distinct bits: sum is OR


def essential_best(rows: np.ndarray, n_ess: int, block: QueryBlock, postings: sp.csr_matrix,
                   title_tokens: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(len(rows), k) scores and ids of the best titles that hold one of each row's `n_ess` rarest
    tokens (`rows` ascending, each with at least `n_ess` tokens)."""
    ess = block.rarest[rows, :n_ess]
    token = np.take_along_axis(block.tok[rows], ess, 1).ravel()
    lengths = np.diff(postings.indptr)[token]
    title = postings.indices[ranges(postings.indptr[token], lengths)].astype(np.int64)
    local = np.repeat(np.repeat(np.arange(len(rows)), n_ess), lengths)
    pos = np.repeat(ess.ravel(), lengths)
    mask = title_masks(rows[local], title, block, title_tokens, postings.shape[0])
    held = mask & position_bits(ess)[local]
    first = np.left_shift(1, pos) == (held & -held)  # a title once: under its first essential token
    local, title, mask = local[first], title[first], mask[first]
    col_bits = max(1, int(title.max(initial=0)).bit_length())
    key = (local << (col_bits + LEVEL_BITS)) | (block.level[rows[local], mask] << col_bits) | title
    key.sort()  # row, then score descending (its level), then id
    local, level, title = key >> (col_bits + LEVEL_BITS), (key >> col_bits) & ((1 << LEVEL_BITS) - 1), key & ((1 << col_bits) - 1)
    return first_k_per_row(local, title.astype(np.int32), block.level_score[rows[local], level], len(rows), k)


def first_postings(rows: np.ndarray, block: QueryBlock, postings: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray]:
    """One-token rows: every match scores that token's idf, so the answer is its first k titles."""
    token = block.tok[rows, 0]
    lengths = np.minimum(np.diff(postings.indptr)[token], k)
    local = np.repeat(np.arange(len(rows)), lengths)
    ids = postings.indices[ranges(postings.indptr[token], lengths)]
    return first_k_per_row(local, ids.astype(np.int32), block.table[rows[local], 1], len(rows), k)


def row_chunks(rows: np.ndarray, cost: np.ndarray, max_cost: int, max_span: int) -> list[np.ndarray]:
    """`rows` (ascending) cut into runs of about `max_cost` summed cost and at most `max_span` row
    ids from first to last (a row costing more than `max_cost` is a run of its own)."""
    if not len(rows):
        return []
    run = (np.cumsum(cost) - cost) // max_cost
    span = (rows - rows[0]) // max_span
    cuts = np.flatnonzero((np.diff(run) != 0) | (np.diff(span) != 0)) + 1
    return np.split(rows, cuts)


def maxscore_top_k(q: sp.csr_matrix, idf: np.ndarray, postings: sp.csr_matrix, title_tokens: np.ndarray,
                   k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(B, k) scores and ids of binary query rows against token x title `postings` (ids sorted
    within each token; `title_tokens` each title's token ids padded with the vocabulary size), and which rows are settled (the rest
    are the caller's to search); None when a row has more than MAX_TOKENS tokens. A row tries its
    n rarest tokens only while their postings are at most CANDIDATE_SHARE of all its postings:
    scoring a candidate from its title costs a few times what the exhaustive product pays a match."""
    if q.shape[0] == 0 or int(np.diff(q.indptr).max(initial=0)) > MAX_TOKENS:
        return None
    if not postings.has_sorted_indices:
        raise ValueError("maxscore_top_k needs postings with ids sorted within each token")
    block = QueryBlock.of(q, idf)
    scores = np.zeros((q.shape[0], k), dtype=np.float32)
    ids = np.full((q.shape[0], k), -1, dtype=np.int32)
    one = np.flatnonzero(block.n_tok == 1)
    if len(one):
        scores[one], ids[one] = first_postings(one, block, postings, k)
    settled = block.n_tok <= 1
    all_bits = np.left_shift(1, block.n_tok) - 1
    df = np.diff(postings.indptr)
    total_df = np.where(block.tok >= 0, df[np.maximum(block.tok, 0)], 0).sum(1)
    for n_ess in range(1, STEPS + 1):
        rows = np.flatnonzero(~settled & (block.n_tok >= n_ess))
        ess_df = df[np.take_along_axis(block.tok[rows], block.rarest[rows, :n_ess], 1)].sum(1)
        cheap = ess_df <= CANDIDATE_SHARE * total_df[rows]
        rows, ess_df = rows[cheap], ess_df[cheap]
        for chunk in row_chunks(rows, ess_df, CHUNK_POSTINGS, SPAN):
            s, i = essential_best(chunk, n_ess, block, postings, title_tokens, k)
            kth = np.where(i[:, -1] >= 0, s[:, -1], -np.inf)
            rest = all_bits[chunk] & ~position_bits(block.rarest[chunk, :n_ess])
            done = (block.n_tok[chunk] == n_ess) | (block.table[chunk, rest] < kth)
            scores[chunk[done]], ids[chunk[done]], settled[chunk[done]] = s[done], i[done], True
    return scores, ids, settled
