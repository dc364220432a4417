"""MaxScore's pruned top-k: every row it settles has the full sort's answer (ties to the lower id,
on catalogues whose common words tie thousands of titles), and it settles most rows."""

import numpy as np
import pytest
import scipy.sparse as sp

from stages import maxscore
from stages.lexical import LexicalIndex
from stages.maxscore import maxscore_top_k, ranges, row_chunks
from stages.subset_topk import MAX_TOKENS
from stages.topk import padded_rows
from tests.stages.test_lexical_topk import _catalogue, _reference


@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("k", [1, 7, 60, 5000])
def test_settled_rows_have_the_full_sort_s_answer(seed, k):
    titles, available, queries = _catalogue(seed)
    index = LexicalIndex(titles, available)
    q = index.match(queries).terms
    scores, ids, settled = maxscore_top_k(q, index.idf, index.terms_bin_t, index.title_tokens, k)
    want_scores, want_ids = _reference(index, queries, k)
    assert np.array_equal(ids[settled], want_ids[settled]) and np.array_equal(scores[settled], want_scores[settled])
    assert available[ids[ids >= 0]].all()
    if k <= 60:  # the pruning prunes: 0.85-0.87, 0.78-0.80 and 0.56-0.57 of rows settled at k 1, 7, 60
        assert settled.mean() > 0.5


def test_every_step_for_every_row_still_gives_the_full_sort_s_answer(monkeypatch):
    """With no limit on the postings read, every row with at most STEPS tokens is settled; the
    index's search (settled rows here, the rest exhaustive) answers every row as the reference."""
    monkeypatch.setattr(maxscore, "STEPS", MAX_TOKENS)
    monkeypatch.setattr(maxscore, "CANDIDATE_SHARE", 1.0)
    monkeypatch.setattr(maxscore, "CHUNK_POSTINGS", 500)  # many chunks per block
    titles, available, queries = _catalogue(5)
    index = LexicalIndex(titles, available)
    q = index.match(queries).terms
    _, _, settled = maxscore_top_k(q, index.idf, index.terms_bin_t, index.title_tokens, 60)
    assert settled.all()
    got, want = index.top_k(q, 60), _reference(index, queries, 60)
    assert np.array_equal(got[1], want[1]) and np.array_equal(got[0], want[0])


def test_a_one_token_query_gets_its_first_listed_titles():
    titles = np.array(["red shoe", "blue shoe", "red hat", "shoe box", "red shoe lace"], dtype=object)
    available = np.array([True, True, False, True, True])
    index = LexicalIndex(titles, available)
    scores, ids, settled = maxscore_top_k(index.match(np.array(["shoe", "red", "zzz"], dtype=object)).terms,
                                          index.idf, index.terms_bin_t, index.title_tokens, 3)
    assert settled.all()
    assert ids.tolist() == [[0, 1, 3], [0, 4, -1], [-1, -1, -1]]
    assert scores[0, 0] == pytest.approx(index.idf[index.vocab["shoe"]]) and scores[2].sum() == 0


def test_a_rarest_token_no_listed_title_holds_yields_no_candidates():
    titles = np.array(["aa bb", "bb cc", "bb dd", "cc dd"], dtype=object)
    index = LexicalIndex(titles, np.array([False, True, True, True]))  # "aa" is in an unlisted title only
    texts = np.array(["aa bb", "aa cc dd"], dtype=object)
    scores, ids, settled = maxscore_top_k(index.match(texts).terms, index.idf, index.terms_bin_t, index.title_tokens, 2)
    want_scores, want_ids = _reference(index, texts, 2)
    assert np.array_equal(ids[settled], want_ids[settled]) and np.array_equal(scores[settled], want_scores[settled])
    got = index.top_k(index.match(texts).terms, 2)
    assert np.array_equal(got[1], want_ids) and got[1][0].tolist() == [1, 2]


def test_long_queries_and_unsorted_postings_are_refused():
    titles, available, _ = _catalogue(1)
    index = LexicalIndex(titles, available)
    long = index.match(np.array([" ".join(f"w{i}" for i in range(MAX_TOKENS + 2))], dtype=object)).terms
    assert maxscore_top_k(long, index.idf, index.terms_bin_t, index.title_tokens, 5) is None
    shuffled = index.terms_bin_t.copy()
    shuffled.has_sorted_indices = False
    with pytest.raises(ValueError, match="sorted"):
        maxscore_top_k(index.match(np.array(["w0 w1"], dtype=object)).terms, index.idf, shuffled, index.title_tokens, 5)


def test_ranges_and_padded_rows():
    assert ranges(np.array([5, 0, 9]), np.array([2, 0, 3])).tolist() == [5, 6, 9, 10, 11]
    terms = sp.csr_matrix(np.array([[1, 0, 1], [0, 0, 0], [0, 1, 0]], dtype=np.float32))
    assert padded_rows(terms, 3).tolist() == [[0, 2], [3, 3], [1, 3]]


def test_row_chunks_bound_cost_and_span():
    rows = np.array([0, 1, 2, 5, 6, 40, 41, 42])
    cost = np.array([3, 3, 3, 10, 1, 1, 1, 1])
    chunks = row_chunks(rows, cost, max_cost=6, max_span=8)
    assert np.array_equal(np.concatenate(chunks), rows)
    for c in chunks:
        lo = np.searchsorted(rows, c[0])
        assert c[-1] - c[0] < 8
        assert cost[lo:lo + len(c)].sum() <= 6 + cost.max()
    assert row_chunks(rows[:0], cost[:0], 6, 8) == []
