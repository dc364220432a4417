"""Title indexes built once and shared: lexical search reads titles and listings, never an arm's
embeddings, so every system serving a day would build the same index and find the same answers.

`title_index` builds a day's index (carrying an earlier day's answers over); `shared_title_index`
also answers every distinct token set of the day's queries ahead of serving, the sets dealt out
over the ranks and the answers all-reduced, so each rank searches its share once instead of every
set its own batches hold (and a second arm in the same process finds them all answered).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from adsim.core.runtime import dist
from adsim.core.config import RetrievalConfig
from adsim.core.errors import DataError
from adsim.world.view import ListedItems
from stages.lexical import LexicalAnswers, LexicalIndex, LexicalMatch, distinct_rows

PREFETCH_BLOCK = 32_768  # token sets answered (and all-reduced) at a time: bounds the exchange's memory


def listed(catalogue: ListedItems, day: int) -> np.ndarray:
    """Which ads are listed on `day`; an empty catalogue is an error."""
    available = catalogue.listed_day <= day
    if not available.any():
        raise DataError(f"day {day}: no items are listed yet, the catalogue is empty")
    return available


def title_index(catalogue: ListedItems, day: int, retrieval: RetrievalConfig,
                earlier: LexicalAnswers | None = None) -> LexicalIndex:
    """The day's title index, carrying over `earlier` (an earlier day's answers over the same titles)."""
    index = LexicalIndex(catalogue.title, listed(catalogue, day), retrieval.lexical_cache)
    if earlier is not None and earlier.day < day and retrieval.lexical_cache > 0:
        index.carry_over(earlier)
    return index


def shared_title_index(catalogue: ListedItems, texts: np.ndarray, day: int, retrieval: RetrievalConfig,
                       earlier: LexicalAnswers | None = None, me: dist.Ranks | None = None) -> LexicalIndex:
    """`title_index` with the lexical channel's answers to the distinct token sets of `texts` (the
    day's query texts) already in its result cache, as far as it has room; collective over `me`."""
    index = title_index(catalogue, day, retrieval, earlier)
    k = retrieval.lexical_quota
    if retrieval.lexical_cache <= 0 or k <= 0 or not len(texts):
        return index
    terms = index.match(pl.Series(texts, dtype=pl.String).unique().to_numpy()).terms
    first, _ = distinct_rows(terms)  # sorted token sets: the same order on every rank
    sets = terms[first]
    sets = sets[:max(0, retrieval.lexical_cache - index.cached(k))]
    me = me or dist.ranks()
    for s in range(0, sets.shape[0], PREFETCH_BLOCK):
        block = sets[s:s + PREFETCH_BLOCK]
        mine = np.arange(me.rank, block.shape[0], me.world)
        scores = np.zeros((block.shape[0], k))
        ids = np.zeros((block.shape[0], k))
        got = index.search(LexicalMatch(terms=block[mine], mass=np.zeros(len(mine), np.float32)), k)
        scores[mine], ids[mine] = got[0], got[1]
        scores, ids = dist.all_sum(scores, me), dist.all_sum(ids, me)  # each row is one rank's answer
        index.remember(block, k, scores.astype(np.float32), ids.astype(np.int32))
    return index


class FirstDayTitles:
    """The first serving day's title index, built when the first arm is about to serve it (after
    training, so it never adds to training's memory), collectively over `me`, then shared by every
    arm this process serves."""

    def __init__(self, catalogue: ListedItems, texts: np.ndarray, retrieval: RetrievalConfig,
                 earlier: LexicalAnswers | None, me: dist.Ranks | None = None):
        self.catalogue, self.texts, self.retrieval, self.earlier, self.me = catalogue, texts, retrieval, earlier, me
        self._index: LexicalIndex | None = None

    def get(self) -> LexicalIndex:
        if self._index is None:
            self._index = shared_title_index(self.catalogue, self.texts, 1, self.retrieval, self.earlier, self.me)
        return self._index
