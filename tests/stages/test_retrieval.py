"""Retrieval: the channel merge, FAISS indexes and the lexical channel."""

import faiss
import numpy as np
import pytest

from adsim.core.config import RetrievalConfig
from stages.lexical import LexicalIndex, tokenize, top_k_sparse_rows
from stages.retrieval import AnnIndex, dedupe_first, merge_channels, recall_against_exact


def test_merge_keeps_priority_dedupes_and_truncates():
    q = (np.array([[0.9, 0.8, 0.7]], np.float32), np.array([[5, 3, -1]], np.int32))
    i2i = (np.array([[0.5, 0.4, 0.3]], np.float32), np.array([[3, 7, 8]], np.int32))
    lex = (np.array([[2.0, 1.0]], np.float32), np.array([[8, 9]], np.int32))
    c = merge_channels([q, i2i, lex], top_n=4)
    assert c.item.tolist() == [[5, 3, 7, 8]]
    assert c.channel.tolist() == [[0, 0, 1, 1]]
    assert c.score[0, 2] == pytest.approx(0.4)
    wide = merge_channels([q, i2i, lex], top_n=8)
    assert wide.item.tolist() == [[5, 3, 7, 8, 9, -1, -1, -1]]


def test_dedupe_first_on_random_rows():
    rng = np.random.default_rng(0)
    items = rng.integers(-1, 20, (200, 30))
    keep = dedupe_first(items)
    for row, k in zip(items, keep):
        seen = set()
        for x, kept in zip(row, k):
            assert kept == (x >= 0 and x not in seen)
            seen.add(x)


@pytest.mark.parametrize("kind,codec", [("flat", "flat"), ("ivf", "flat"), ("ivf", "sq8"), ("hnsw", "flat")])
def test_ann_indexes_find_exact_neighbours(kind, codec):
    rng = np.random.default_rng(1)
    emb = rng.normal(size=(3000, 32)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    available = rng.random(3000) < 0.9
    cfg = RetrievalConfig(index=kind, ivf_lists=32, ivf_probe=16, ivf_codec=codec)
    index = AnnIndex(emb, available, cfg)
    if kind == "ivf":
        assert isinstance(index.index, faiss.IndexIVFScalarQuantizer if codec == "sq8" else faiss.IndexIVFFlat)
    queries = emb[:200] + 0.05 * rng.normal(size=(200, 32)).astype(np.float32)
    scores, ids = index.search(queries, 10)
    assert available[ids[ids >= 0]].all()
    exact = np.argsort(-(queries @ emb[available].T), axis=1)[:, :10]
    exact_ids = np.flatnonzero(available)[exact]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, exact_ids)])
    assert recall > (0.999 if kind == "flat" else 0.8), recall
    assert (np.diff(scores, axis=1) <= 1e-5).all()
    assert recall_against_exact(index, emb, queries, 10) == pytest.approx(recall)


def test_lexical_channel_scores_token_overlap():
    titles = np.array(["red striped tee", "blue denim jeans", "red jeans sale", "plain mug"], dtype=object)
    index = LexicalIndex(titles, np.array([True, True, True, False]))
    scores, ids = index.search(np.array(["red jeans", "mug", ""], dtype=object), k=3)
    assert ids[0, 0] == 2 and set(ids[0, 1:]) == {0, 1}
    assert (ids[1] == -1).all()  # the only mug is not listed
    assert (ids[2] == -1).all()
    overlap, _ = index.overlap(np.array(["red jeans"], dtype=object), np.array([[2, 3, -1]]))
    assert overlap[0, 0] > 0 and overlap[0, 1] == 0 and overlap[0, 2] == 0
    assert tokenize("Red-Striped TEE!") == ["red", "striped", "tee"]


def test_top_k_sparse_rows_matches_dense():
    import scipy.sparse as sp
    rng = np.random.default_rng(2)
    dense = np.where(rng.random((50, 40)) < 0.2, rng.random((50, 40)), 0).astype(np.float32)
    scores, ids = top_k_sparse_rows(sp.csr_matrix(dense), 5)
    for row, s, i in zip(dense, scores, ids):
        nz = np.flatnonzero(row)
        want = nz[np.lexsort((nz, -row[nz]))][:5]
        assert i[: len(want)].tolist() == want.tolist()
        assert (i[len(want):] == -1).all()


@pytest.mark.parametrize("packed", [True, False])
def test_sparse_top_k_orders_by_score_then_id_within_each_row(packed, monkeypatch):
    import scipy.sparse as sp

    import stages.lexical as lexical
    from stages.lexical import top_k_sparse_rows
    if not packed:  # the path for matrices too wide to pack into one int64 key
        monkeypatch.setattr(lexical, "KEY_BITS", 0)
    m = sp.random(40, 300, density=0.1, random_state=1, format="csr", dtype=np.float32)
    m.data = np.round(m.data * 3).astype(np.float32) + 1  # many ties
    m = sp.csr_matrix(m[:, ::-1])  # unsorted column ids within rows
    scores, ids = top_k_sparse_rows(m, 9)
    dense = m.toarray()
    for r in range(40):
        nz = np.flatnonzero(dense[r])
        want = nz[np.lexsort((nz, -dense[r, nz]))][:9]
        assert ids[r, :len(want)].tolist() == want.tolist() and (ids[r, len(want):] == -1).all()
        assert np.array_equal(scores[r, :len(want)], dense[r, want])


@pytest.mark.parametrize("k", [1, 7, 60])
def test_sparse_top_k_at_few_score_levels(k):
    """Rows like a lexical match at scale: many entries at few score levels (sums of a few idfs),
    so the k-th place falls inside a level of ties."""
    import scipy.sparse as sp
    rng = np.random.default_rng(4)
    idf = np.array([1.2, 2.5, 3.1, 6.0], np.float32)
    has = rng.random((30, 2000, 4)) < [0.6, 0.05, 0.02, 0.002]
    dense = (has * idf).sum(-1).astype(np.float32)
    m = sp.csr_matrix(dense)
    scores, ids = top_k_sparse_rows(m, k)
    for r in range(30):
        nz = np.flatnonzero(dense[r])
        want = nz[np.lexsort((nz, -dense[r, nz]))][:k]
        assert ids[r].tolist() == want.tolist() and np.array_equal(scores[r], dense[r, want])


def test_repeated_queries_are_scored_once_with_the_same_result():
    from stages.lexical import distinct_rows
    titles = np.array(["red striped tee", "blue denim jeans", "red jeans sale", "plain mug", "red mug"], dtype=object)
    index = LexicalIndex(titles, np.ones(5, bool))
    queries = np.array(["red jeans", "mug", "jeans red", "", "red jeans", "mug red", ""], dtype=object)
    first, inverse = distinct_rows(index.match(queries).terms)
    assert len(first) == 4 and (inverse[[0, 2, 4]] == inverse[0]).all() and inverse[3] == inverse[6]
    scores, ids = index.search(queries, k=3)
    for i, q in enumerate(queries):
        s1, i1 = index.search(np.array([q], dtype=object), k=3)
        assert np.array_equal(ids[i], i1[0]) and np.array_equal(scores[i], s1[0])


@pytest.mark.gpu
@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_faiss_gpu_index_finds_what_the_cpu_index_finds(kind):
    import faiss

    from adsim.core.runtime.device import faiss_gpus
    from stages.retrieval import build_faiss_index
    if not faiss_gpus():
        pytest.skip("this FAISS build has no GPU support")
    rng = np.random.default_rng(5)
    emb = rng.normal(size=(5000, 32)).astype(np.float32)
    queries = rng.normal(size=(64, 32)).astype(np.float32)
    index = build_faiss_index(emb, RetrievalConfig(index=kind, ivf_lists=32, ivf_probe=32))
    assert not isinstance(index, (faiss.IndexFlatIP, faiss.IndexIVFFlat))  # it went to the GPU
    cpu = faiss.IndexFlatIP(32)
    cpu.add(emb)
    _, want = cpu.search(queries, 10)
    _, got = index.search(queries, 10)
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, want)]) > 0.999
