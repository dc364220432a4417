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


class RunTitles:
    """A run's title indexes, owned by the run rather than by an arm: lexical search reads titles and
    listings, never an arm's embeddings, so every system of the run asks here.

    - `first_day` (the first day the run's systems serve: 0 for the bootstrap, 1 for the arms),
      given its queries' texts: built once when the first system asks (after training, so it never
      adds to training's memory), its answers shared out over the ranks (`shared_title_index`),
      then shared by every system of this process;
    - any other day: a fresh index carrying `earlier` (the asking system's own previous day) or
      else `carried` (what the run answered before it: the bootstrap's day 0).
    """

    def __init__(self, catalogue: ListedItems, retrieval: RetrievalConfig, first_day: int = 1,
                 first_texts: np.ndarray | None = None, carried: LexicalAnswers | None = None,
                 me: dist.Ranks | None = None):
        self.catalogue, self.retrieval, self.first_day, self.first_texts = catalogue, retrieval, first_day, first_texts
        self.carried, self.me = carried, me
        self._first: LexicalIndex | None = None

    def index(self, day: int, earlier: LexicalAnswers | None = None,
              retrieval: RetrievalConfig | None = None) -> LexicalIndex:
        """The title index `day` is served (or labelled) with; `retrieval`: the asking arm's settings
        (its own days' caches), else the run's."""
        if day == self.first_day and self._first is None and self.first_texts is not None:
            self._first = shared_title_index(self.catalogue, self.first_texts, day, self.retrieval, self.carried, self.me)
            self.first_texts = None  # answered: a million-request day's texts need not stay
        if day == self.first_day and self._first is not None:
            return self._first
        earlier = earlier if earlier is not None else self.carried
        return title_index(self.catalogue, day, retrieval or self.retrieval, earlier)
