"""Title indexes built once and shared: the answers are the day's own, only the time moves."""

import numpy as np
import pytest

from adsim.core.config import load_config
from adsim.serving.titles import RunTitles, shared_title_index, title_index
from tests.support import SMOKE


@pytest.fixture(scope="module")
def day_texts(smoke_world):
    req = smoke_world.requests
    return smoke_world.view.items, req.query_text[req.day == 1]


@pytest.mark.parametrize("capacity", [0, 50, 262_144])
def test_a_shared_index_answers_as_the_day_s_own_index(day_texts, capacity):
    items, texts = day_texts
    cfg = load_config(SMOKE, [f"retrieval.lexical_cache={capacity}"]).retrieval
    k = cfg.lexical_quota
    shared = shared_title_index(items, texts, 1, cfg)
    n_sets = len({frozenset(shared.match(np.array([t])).terms.indices) for t in texts})
    assert shared.cached(k) == min(capacity, n_sets)  # answered ahead, as far as the cache has room
    own = title_index(items, 1, cfg)
    for got, want in zip(shared.search(texts, k), own.search(texts, k)):
        assert np.array_equal(got, want)


def test_remembered_answers_are_hits_and_never_overwrite(day_texts):
    items, texts = day_texts
    cfg = load_config(SMOKE).retrieval
    k = cfg.lexical_quota
    index = title_index(items, 1, cfg)
    q = index.match(texts[:40]).terms
    scores, ids = index.search(texts[:40], k)
    before = index.cached(k)
    index.remember(q, k, np.zeros_like(scores), np.full_like(ids, 7))  # known sets keep their own answers
    assert index.cached(k) == before and np.array_equal(index.search(texts[:40], k)[1], ids)
    fresh = title_index(items, 1, cfg)
    fresh.remember(q, k, scores, ids)
    hits = fresh.caches[k].hits
    assert np.array_equal(fresh.search(texts[:40], k)[1], ids) and fresh.caches[k].hits > hits


def test_the_run_s_first_day_index_is_built_once_and_other_days_afresh(day_texts):
    items, texts = day_texts
    titles = RunTitles(items, load_config(SMOKE).retrieval, first_day=1, first_texts=texts)
    assert titles.index(1) is titles.index(1)  # shared by every arm of the process
    assert titles.index(2) is not titles.index(2)  # each arm's own, carrying its own answers


def test_shared_answers_carried_from_day_0_are_the_day_s_own(smoke_world, day_texts):
    items, texts = day_texts
    cfg = load_config(SMOKE).retrieval
    req = smoke_world.requests
    day0 = title_index(items, 0, cfg)
    day0.search(req.query_text[req.day == 0], cfg.lexical_quota)
    shared = shared_title_index(items, texts, 1, cfg, day0.answers(0))
    for got, want in zip(shared.search(texts, cfg.lexical_quota), title_index(items, 1, cfg).search(texts, cfg.lexical_quota)):
        assert np.array_equal(got, want)
