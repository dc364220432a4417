"""The lexical channel's top-k by score levels and its result cache: the same answers as sorting
every match (`top_k_sparse_rows`, the reference), on catalogues whose common words tie thousands
of titles."""

import numpy as np
import pytest

from stages.lexical import LexicalIndex, distinct_rows, top_k_sparse_rows
from stages.result_cache import ResultCache
from stages.subset_topk import MAX_TOKENS, subset_top_k


def _catalogue(seed: int = 0, n_items: int = 6000, n_words: int = 300):
    """Titles of 2-8 words drawn Zipf-like (a few words in most titles), a tenth of them unlisted."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, n_words + 1) ** 1.1
    p /= p.sum()
    words = np.array([f"w{i}" for i in range(n_words)])
    titles = np.array([" ".join(rng.choice(words, rng.integers(2, 9), p=p)) for _ in range(n_items)], dtype=object)
    queries = np.array([" ".join(rng.choice(words, rng.integers(0, 7), p=p)) for _ in range(700)], dtype=object)
    return titles, rng.random(n_items) > 0.1, queries


def _reference(index: LexicalIndex, texts: np.ndarray, k: int):
    scores = (index.match(texts).terms @ index.item_terms_t).tocsr()
    scores.eliminate_zeros()
    return top_k_sparse_rows(scores, k)


@pytest.mark.parametrize("k", [1, 7, 60, 5000])
def test_score_levels_give_the_full_sort_s_answer(k):
    titles, available, queries = _catalogue()
    index = LexicalIndex(titles, available)
    q = index.match(queries).terms
    scores, ids = subset_top_k(q, index.idf, index.terms_bin_t, k, len(titles))
    want_scores, want_ids = _reference(index, queries, k)
    assert np.array_equal(ids, want_ids) and np.array_equal(scores, want_scores)
    assert (ids[np.diff(q.indptr) == 0] == -1).all()  # a query without known words matches nothing
    assert available[ids[ids >= 0]].all()


def test_queries_longer_than_the_mask_table_take_the_full_sort():
    titles, available, _ = _catalogue(1)
    index = LexicalIndex(titles, available)
    long = np.array([" ".join(f"w{i}" for i in range(MAX_TOKENS + 2)), "w0 w1"], dtype=object)
    assert subset_top_k(index.match(long).terms, index.idf, index.terms_bin_t, 10, len(titles)) is None
    scores, ids = index.search(long, 10)
    want_scores, want_ids = _reference(index, long, 10)
    assert np.array_equal(ids, want_ids) and np.array_equal(scores, want_scores)


@pytest.mark.parametrize("capacity", [0, 40, 100000])
def test_cached_search_answers_as_uncached_search_across_batches(capacity):
    titles, available, queries = _catalogue(2)
    cached, plain = LexicalIndex(titles, available, capacity), LexicalIndex(titles, available, 0)
    batches = np.array_split(np.concatenate([queries, queries[::-1]]), 5)  # every query comes back
    for batch in batches:
        got, want = cached.search(batch, 60, block=64), _reference(plain, batch, 60)
        assert np.array_equal(got[1], want[1]) and np.array_equal(got[0], want[0])
    distinct = len(distinct_rows(plain.match(queries).terms)[0])
    if capacity:
        cache = cached.caches[60]
        assert cache.size == min(capacity, distinct)
        assert cache.hits > 0
        if capacity > distinct:  # each token set is scored once; then every query is answered from the cache
            hits = cache.hits
            cached.search(queries, 60)
            assert cache.misses == distinct and cache.hits == hits + distinct
    else:
        assert cached.caches == {}


def test_token_set_keys_ignore_order_and_tell_sets_apart():
    titles, available, _ = _catalogue(3)
    index = LexicalIndex(titles, available)
    terms = index.match(np.array(["w1 w2 w3", "w3 w1 w2", "w1 w2", "w1 w2 w4", ""], dtype=object)).terms
    keys = ResultCache(len(index.vocab), 5, 10).row_keys(terms)
    assert (keys[0] == keys[1]).all()
    assert len({tuple(k) for k in keys[[0, 2, 3, 4]]}) == 4


@pytest.mark.parametrize("k", [7, 60])
def test_carried_answers_merged_with_the_titles_listed_since_are_the_day_s_answers(k):
    titles, _, queries = _catalogue(3)
    rng = np.random.default_rng(3)
    day = rng.integers(0, 3, len(titles))  # listed on day 0, 1 or 2
    long = np.array([" ".join(f"w{i}" for i in range(MAX_TOKENS + 2))], dtype=object)  # the full-sort path too
    queries = np.concatenate([queries, long])
    indexes = []
    for d in range(3):
        index = LexicalIndex(titles, day <= d, 100000)
        if indexes:
            index.carry_over(indexes[-1].answers(d - 1))
        for batch in np.array_split(queries[rng.permutation(len(queries))], 3):
            got, want = index.search(batch, k, block=64), _reference(LexicalIndex(titles, day <= d), batch, k)
            assert np.array_equal(got[1], want[1]) and np.array_equal(got[0], want[0])
        indexes.append(index)
    assert indexes[2].carried[k].hits > 0  # yesterday's answers were used, not recomputed


def test_carry_over_refuses_answers_of_other_titles_or_a_later_day():
    titles, available, _ = _catalogue(4)
    today = LexicalIndex(titles, available, 100)
    with pytest.raises(ValueError):
        today.carry_over(LexicalIndex(titles, np.ones(len(titles), bool), 100).answers(0))  # delisted titles
    with pytest.raises(ValueError):
        today.carry_over(LexicalIndex(titles[::-1], available, 100).answers(0))


def test_merge_top_k_is_the_top_k_of_the_union():
    from stages.topk import merge_top_k
    s1, i1 = np.array([[3.0, 2.0, 0.0]], np.float32), np.array([[4, 9, -1]], np.int32)
    s2, i2 = np.array([[3.0, 1.0]], np.float32), np.array([[2, 5]], np.int32)
    s, i = merge_top_k(s1, i1, s2, i2, 4)
    assert i.tolist() == [[2, 4, 9, 5]] and s.tolist() == [[3.0, 3.0, 2.0, 1.0]]
    s, i = merge_top_k(s1[:, :1], i1[:, :1], s2[:, :0], i2[:, :0], 3)
    assert i.tolist() == [[4, -1, -1]] and s.tolist() == [[3.0, 0.0, 0.0]]
