"""Relevant-item counts by inclusion-exclusion over count tables equal scoring every pair."""

import numpy as np
import pytest

from adsim.core.tables import take
from adsim.truth.ground_truth import Intents, relevance
from adsim.truth.relevant_counts import RelevantCounter


def brute_force_counts(intents, items, available):
    """Every item of the query's leaf graded, the grade-2-or-better ones counted (the reference)."""
    counts = np.zeros(len(intents.leaf), dtype=np.int64)
    for leaf in np.unique(intents.leaf):
        rows = np.flatnonzero(intents.leaf == leaf)
        pool = np.flatnonzero((items.leaf == leaf) & available)
        if len(pool):
            grid = np.broadcast_to(pool, (len(rows), len(pool)))
            counts[rows] = (relevance(take(intents, rows), items, grid) >= 2).sum(1)
    return counts


def test_counts_equal_the_brute_force_on_the_world_and_on_random_intents(smoke_world):
    items, req = smoke_world.items, smoke_world.requests
    for day in (0, 1):
        available = items.listed_day <= day
        counter = RelevantCounter(items, available)
        assert np.array_equal(counter.counts(req.intent), brute_force_counts(req.intent, items, available))
    # Every specified subset size, with values an item may or may not have.
    rng = np.random.default_rng(0)
    n = 3000

    def some(col, hi):
        return np.where(rng.random(n) < 0.5, -1, rng.integers(0, hi, n)).astype(getattr(items, col).dtype)

    intents = Intents(leaf=rng.integers(0, int(items.leaf.max()) + 1, n).astype(np.int16), colour=some("colour", 14),
                      pattern=some("pattern", 9), style=some("style", 7), brand=some("brand", 40),
                      price_tier=some("price_tier", 5), target=np.zeros(n, np.int32))
    available = rng.random(len(items.item_id)) < 0.7
    assert np.array_equal(RelevantCounter(items, available).counts(intents), brute_force_counts(intents, items, available))


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_an_empty_or_full_catalogue(smoke_world, share):
    items, req = smoke_world.items, smoke_world.requests
    available = np.full(len(items.item_id), bool(share))
    got = RelevantCounter(items, available).counts(req.intent)
    assert np.array_equal(got, brute_force_counts(req.intent, items, available))
    assert (got == 0).all() == (share == 0.0)
