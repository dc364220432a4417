"""Lexical retrieval over title tokens (no embeddings): idf-weighted token overlap.

Queries and titles are tokenised the same way; a query's score for an item is the summed idf of
the tokens they share. Typos and the title/query vocabulary gap make this channel miss items an
embedding would find, which is the point of comparing channels.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from stages.maxscore import maxscore_top_k
from stages.result_cache import ResultCache
from stages.subset_topk import subset_top_k
from stages.topk import first_k_per_row, merge_top_k, padded_rows

SEARCH_BLOCK = 256  # queries scored against every title at once
KEY_BITS = 63       # a sort key packs row, score and id into one non-negative int64
_TOKEN = re.compile(r"[a-z0-9]+")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def top_k_sparse_rows(matrix: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-row top-k (scores, column ids) of a CSR matrix of non-negative scores, ties to the lower
    id; -1 / 0 where a row has fewer entries."""
    matrix = matrix.tocsr()
    n, m = matrix.shape
    row = np.repeat(np.arange(n, dtype=np.int64), np.diff(matrix.indptr))
    row_bits, col_bits = max(1, (n - 1).bit_length()), max(1, (m - 1).bit_length())
    if row_bits + 31 + col_bits <= KEY_BITS:
        sorted_row, col, score = _sorted_by_packed_key(row, matrix.indices, matrix.data, col_bits)
    else:
        sorted_row, col, score = _sorted_by_stable_sort(matrix, row)
    return first_k_per_row(sorted_row, col, score, n, k)


def _sorted_by_stable_sort(matrix: sp.csr_matrix, row: np.ndarray):
    """The same order for matrices too wide to pack: ids sorted within rows, then one stable sort
    by row * span + (top - score) (span > top, so rows never interleave)."""
    matrix.sort_indices()
    data = matrix.data.astype(np.float64)
    top = float(data.max()) if len(data) else 0.0
    order = np.argsort(row * (top + 1.0) + (top - data), kind="stable")
    return row[order], matrix.indices[order], matrix.data[order]


def _sorted_by_packed_key(row: np.ndarray, col: np.ndarray, data: np.ndarray, col_bits: int):
    """Entries ordered by row, score descending, id ascending, with one sort of int64 keys: row,
    then the score's float32 bits inverted (non-negative floats order as their bits), then the id.
    No argsort and no per-row index sort (the million-ad top-k: 12.0 -> 8.6 s per 8,192 queries)."""
    bits = np.ascontiguousarray(data, dtype=np.float32).view(np.int32).astype(np.int64)
    key = (row << (31 + col_bits)) | ((0x7FFFFFFF - bits) << col_bits) | col.astype(np.int64)
    key.sort()
    score = (0x7FFFFFFF - ((key >> col_bits) & 0x7FFFFFFF)).astype(np.int32).view(np.float32)
    return key >> (31 + col_bits), (key & ((1 << col_bits) - 1)).astype(np.int32), score


def distinct_rows(terms: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """One row index per distinct row of a binary term matrix, and each row's position among them
    (`terms[first][inverse]` is `terms`): rows as fixed-width arrays of their sorted term ids."""
    terms = terms.tocsr()
    terms.sort_indices()
    _, first, inverse = np.unique(padded_rows(terms, -1), axis=0, return_index=True, return_inverse=True)
    return first, inverse.ravel()


class LexicalIndex:
    """Inverted index of item titles as an idf-weighted binary item x token matrix."""

    def __init__(self, titles: np.ndarray, available: np.ndarray, cache_size: int = 0):
        docs = [set(tokenize(t)) for t in titles]
        self.vocab = {tok: i for i, tok in enumerate(sorted(set().union(*docs)))}
        rows = np.repeat(np.arange(len(docs)), [len(d) for d in docs])
        cols = np.fromiter((self.vocab[t] for d in docs for t in sorted(d)), dtype=np.int64, count=len(rows))
        item_terms = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(docs), len(self.vocab)))
        # Which titles hold which tokens, as a fingerprint: a later day's index carries answers over
        # only from an index of the very same titles in the same order.
        self.titles_key = hashlib.sha256(item_terms.indptr.tobytes() + item_terms.indices.tobytes()
                                         + str(len(self.vocab)).encode()).hexdigest()
        self._title_terms = item_terms  # every title's tokens, listed or not (MaxScore scores candidates from them)
        df = np.asarray(item_terms.sum(axis=0)).ravel()
        self.idf = np.log((len(docs) + 1) / (df + 1)).astype(np.float32) + 1.0
        item_terms = sp.diags(available.astype(np.float32)) @ item_terms  # unlisted items never match
        self.item_terms = (item_terms @ sp.diags(self.idf)).tocsr()
        self.item_terms_t = self.item_terms.T.tocsr()
        self.item_terms_t.eliminate_zeros()
        self.terms_bin_t = self.item_terms_t.copy()  # which titles hold each token (ids sorted)
        self.terms_bin_t.data[:] = 1.0
        self.available = np.asarray(available, dtype=bool)
        self.cache_size = cache_size
        self.caches: dict[int, ResultCache] = {}  # per k: the results of token sets searched today
        self.carried: dict[int, ResultCache] = {}  # per k: an earlier day's (`carry_over`)
        self._since: tuple[sp.csr_matrix, sp.csr_matrix] | None = None  # (idf, binary) token x title, titles listed since

    @functools.cached_property
    def title_tokens(self) -> np.ndarray:
        """(titles, longest title) each title's token ids, padded with the vocabulary size."""
        return padded_rows(self._title_terms, len(self.vocab), np.int32)

    def answers(self, day: int) -> "LexicalAnswers":
        """What this index has answered, for a later day's index to carry over."""
        return LexicalAnswers(day=day, available=self.available, titles_key=self.titles_key, caches=dict(self.caches))

    def carry_over(self, earlier: "LexicalAnswers") -> None:
        """Take over the token sets an index of the same titles answered on an earlier day (fewer
        titles listed, none delisted): today's answer to one of them is that answer merged with the
        best of the titles listed since, which is exactly what the search would find, since a
        title's score does not change with the day (idf is over every title)."""
        if (earlier.titles_key != self.titles_key or len(earlier.available) != len(self.available)
                or (earlier.available & ~self.available).any()):
            raise ValueError("carry_over needs the answers of an index of the same titles on an earlier day")
        since = sp.diags((self.available & ~earlier.available).astype(np.float32))
        weighted = (self.item_terms_t @ since).tocsr()
        weighted.eliminate_zeros()
        weighted.sort_indices()  # MaxScore reads a token's first titles in id order
        binary = weighted.copy()
        binary.data[:] = 1.0
        self._since, self.carried = (weighted, binary), dict(earlier.caches)

    def query_matrix(self, texts: np.ndarray) -> sp.csr_matrix:
        toks = [sorted({self.vocab[t] for t in tokenize(s) if t in self.vocab}) for s in texts]
        rows = np.repeat(np.arange(len(toks)), [len(t) for t in toks])
        cols = np.fromiter((c for t in toks for c in t), dtype=np.int64, count=len(rows))
        return sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(texts), len(self.vocab)))

    def match(self, texts: np.ndarray) -> "LexicalMatch":
        """One tokenisation for a batch of queries, shared by `search` (the lexical channel) and
        `overlap` (the relevance model's lexical features)."""
        q = self.query_matrix(texts)
        return LexicalMatch(terms=q, mass=np.asarray(q @ self.idf).ravel().astype(np.float32))

    def search(self, texts: "np.ndarray | LexicalMatch", k: int, block: int = SEARCH_BLOCK) -> tuple[np.ndarray, np.ndarray]:
        """(scores, item ids) of the k best title matches per query; -1 where fewer match. A token
        set is scored once per batch, and once per index while the result cache has room; the rest
        go `block` at a time, so the (queries, titles) matches in memory never grow with the batch."""
        terms = (texts if isinstance(texts, LexicalMatch) else self.match(texts)).terms
        first, inverse = distinct_rows(terms)
        q = terms[first]
        scores = np.zeros((len(first), k), dtype=np.float32)
        ids = np.full((len(first), k), -1, dtype=np.int32)
        cache = self._cache(k)
        keys = cache.row_keys(q) if cache else None
        slot = cache.lookup(keys) if cache else np.full(len(first), -1)
        hit = np.flatnonzero(slot >= 0)
        if len(hit):
            scores[hit], ids[hit] = cache.results(slot[hit])
        todo = np.flatnonzero(slot < 0)
        rest = self._from_carried(q, keys, todo, k, scores, ids)
        for s in range(0, len(rest), block):
            rows = rest[s:s + block]
            scores[rows], ids[rows] = self.top_k(q[rows], k)
        if cache:
            cache.insert(keys[todo], scores[todo], ids[todo])
        return scores[inverse], ids[inverse]

    def cached(self, k: int) -> int:
        """Token sets whose k best titles this index holds (today's, not the carried ones)."""
        return self.caches[k].size if k in self.caches else 0

    def remember(self, q: sp.csr_matrix, k: int, scores: np.ndarray, ids: np.ndarray) -> None:
        """Keep the k best titles of token sets `q` found elsewhere (by an index of the same titles
        and listing, another rank's), where this index has room and no answer yet."""
        cache = self._cache(k)
        if cache is None or not q.shape[0]:
            return
        keys = cache.row_keys(q)
        new = np.flatnonzero(cache.lookup(keys) < 0)
        cache.insert(keys[new], scores[new], ids[new])

    def _cache(self, k: int) -> ResultCache | None:
        if self.cache_size <= 0:
            return None
        if k not in self.caches:
            self.caches[k] = ResultCache(len(self.vocab), k, self.cache_size)
        return self.caches[k]

    def _from_carried(self, q: sp.csr_matrix, keys: np.ndarray | None, todo: np.ndarray, k: int,
                      scores: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Answer the rows of `todo` whose token set an earlier day's cache holds (its answer
        merged with the titles listed since), in place; the rows left to search."""
        earlier = self.carried.get(k)
        if earlier is None or keys is None or not len(todo) or self._since is None:
            return todo
        slot = earlier.lookup(keys[todo])
        got = todo[slot >= 0]
        if len(got):
            old_s, old_i = earlier.results(slot[slot >= 0])
            new_s, new_i = self.top_k(q[got], k, *self._since)
            scores[got], ids[got] = merge_top_k(old_s, old_i, new_s, new_i, k)
        return todo[slot < 0]

    def top_k(self, q: sp.csr_matrix, k: int, weighted_t: sp.csr_matrix | None = None,
              binary_t: sp.csr_matrix | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Binary query rows' k best titles (of the token x title matrices given, by default every
        listed title): from the postings of their rarest tokens where those settle it
        (`maxscore_top_k`), else from every match (`_exhaustive`)."""
        weighted_t = self.item_terms_t if weighted_t is None else weighted_t
        binary_t = self.terms_bin_t if binary_t is None else binary_t
        pruned = maxscore_top_k(q, self.idf, binary_t, self.title_tokens, k)
        if pruned is None:
            return self._exhaustive(q, k, weighted_t, binary_t)
        scores, ids, settled = pruned
        rest = np.flatnonzero(~settled)
        if len(rest):
            scores[rest], ids[rest] = self._exhaustive(q[rest], k, weighted_t, binary_t)
        return scores, ids

    def _exhaustive(self, q: sp.csr_matrix, k: int, weighted_t: sp.csr_matrix, binary_t: sp.csr_matrix
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Every match of the rows scored: by score levels, or by sorting them all for rows of
        more than MAX_TOKENS tokens."""
        out = subset_top_k(q, self.idf, binary_t, k, self.item_terms.shape[0])
        if out is None:
            scores = (q @ weighted_t).tocsr()
            scores.eliminate_zeros()
            out = top_k_sparse_rows(scores, k)
        return out

    def overlap(self, texts: "np.ndarray | LexicalMatch", items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The idf-weighted overlap of each query with each of its (R, C) candidate items (0 for -1),
        and each query's total idf mass (R,): per pair, the candidate's title terms times the
        query's (memory and time grow with the pairs, not with the catalogue)."""
        m = texts if isinstance(texts, LexicalMatch) else self.match(texts)
        r, c = items.shape
        titles = self.item_terms[np.maximum(items, 0).ravel()]
        shared = titles.multiply(m.terms[np.repeat(np.arange(r), c)])
        overlap = np.asarray(shared.sum(1)).reshape(r, c)
        return np.where(items >= 0, overlap, 0.0).astype(np.float32), m.mass


@dataclass(frozen=True)
class LexicalMatch:
    """A batch of queries' binary term matrix (R, V) and each query's idf mass (R,)."""

    terms: sp.csr_matrix
    mass: np.ndarray


@dataclass(frozen=True)
class LexicalAnswers:
    """A day's index's answered token sets (its result caches, shared, not copied), with what a
    later day's index checks before it carries them over."""

    day: int
    available: np.ndarray
    titles_key: str
    caches: dict[int, ResultCache]

