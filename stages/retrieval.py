"""Candidate retrieval: FAISS ANN channels plus a lexical channel, merged with quotas.

Channels, in priority order:
- `query`: the query embedding -> inner-product ANN over ad embeddings;
- `i2i`: each of the user's most recent behaviour items -> its nearest ads, from an item-to-item
  neighbour table built with one batched FAISS search when the index is built (as industrial i2i
  tables are computed offline), so serving is a gather;
- `lexical`: title-token overlap with the query text (no embeddings).
Each channel contributes up to its quota; the merge dedupes (first channel wins) and keeps the
first `top_n`. All searches are batched over the whole request batch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import faiss
import numpy as np

from adsim.core.config import RetrievalConfig
from adsim.core.runtime.device import faiss_gpus
from stages.lexical import LexicalIndex, LexicalMatch

CHANNELS = ("query", "i2i", "lexical")


@dataclass(frozen=True)
class Candidates:
    """Merged candidates of R requests, padded with item -1."""

    item: np.ndarray     # int32 (R, N)
    channel: np.ndarray  # int8 (R, N), index into CHANNELS; -1 for padding
    score: np.ndarray    # float32 (R, N), the finding channel's score
    lexical: LexicalMatch | None = None  # the queries' title matches, for the relevance features

    @property
    def valid(self) -> np.ndarray:
        return self.item >= 0


def build_faiss_index(vectors: np.ndarray, cfg: RetrievalConfig) -> faiss.Index:
    """An inner-product index of the configured type, moved to the GPU where FAISS has one."""
    n, d = vectors.shape
    if cfg.index == "flat" or n < 4 * cfg.ivf_lists and cfg.index == "ivf":
        index = faiss.IndexFlatIP(d)
    elif cfg.index == "ivf":
        quantizer = faiss.IndexFlatIP(d)
        if cfg.ivf_codec == "sq8":
            index = faiss.IndexIVFScalarQuantizer(quantizer, d, cfg.ivf_lists, faiss.ScalarQuantizer.QT_8bit,
                                                  faiss.METRIC_INNER_PRODUCT)
        else:
            index = faiss.IndexIVFFlat(quantizer, d, cfg.ivf_lists, faiss.METRIC_INNER_PRODUCT)
        index.cp.max_points_per_centroid = cfg.ivf_train_per_list  # k-means on at most this many points a list
        index.train(vectors)
        index.nprobe = cfg.ivf_probe
    else:
        index = faiss.IndexHNSWFlat(d, cfg.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = cfg.hnsw_ef_search
    index.add(vectors)
    if faiss_gpus() and cfg.index != "hnsw":  # FAISS has no GPU HNSW; it stays on the CPU
        index = faiss.index_cpu_to_all_gpus(index)
    return index


class AnnIndex:
    """FAISS index over a subset of items; results are item ids (-1 where none)."""

    def __init__(self, embeddings: np.ndarray, available: np.ndarray, cfg: RetrievalConfig):
        self.ids = np.flatnonzero(available).astype(np.int32)
        self.index = build_faiss_index(np.ascontiguousarray(embeddings[self.ids]), cfg)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, item ids) (Q, k) of each query's k best listed items; -1 past the listed count."""
        k_eff = min(k, len(self.ids))
        scores = np.zeros((len(queries), k), dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int32)
        if len(queries) == 0 or k_eff == 0:
            return scores, ids
        s, pos = self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k_eff)
        scores[:, :k_eff] = s
        ids[:, :k_eff] = np.where(pos >= 0, self.ids[np.maximum(pos, 0)], -1)
        return scores, ids


def recall_against_exact(ann: AnnIndex, embeddings: np.ndarray, queries: np.ndarray, k: int) -> float:
    """The share of each query's exact top k (inner product over the index's listed items) that
    the index finds, averaged over queries: what an approximate index gives up for its speed."""
    exact = faiss.IndexFlatIP(embeddings.shape[1])
    exact.add(np.ascontiguousarray(embeddings[ann.ids], dtype=np.float32))
    k = min(k, len(ann.ids))
    _, want = exact.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    _, got = ann.search(queries, k)
    row = np.arange(len(queries), dtype=np.int64)[:, None] * (int(ann.ids.max(initial=0)) + 2)
    hits = np.isin(row + got, row + ann.ids[want])  # (query, id) pairs: ids are distinct within a row
    return float(hits.sum() / (len(queries) * k)) if len(queries) and k else float("nan")


def dedupe_first(items: np.ndarray) -> np.ndarray:
    """Mask of the first occurrence of each non-negative item in each row."""
    order = np.argsort(items, axis=1, kind="stable")
    sorted_items = np.take_along_axis(items, order, 1)
    first_sorted = np.ones_like(sorted_items, dtype=bool)
    first_sorted[:, 1:] = sorted_items[:, 1:] != sorted_items[:, :-1]
    first = np.empty_like(first_sorted)
    np.put_along_axis(first, order, first_sorted, 1)
    return first & (items >= 0)


def merge_channels(results: list[tuple[np.ndarray, np.ndarray]], top_n: int) -> Candidates:
    """Concatenate channel results in priority order, dedupe, keep the first `top_n` per row."""
    items = np.concatenate([ids for _, ids in results], axis=1)
    scores = np.concatenate([s for s, _ in results], axis=1)
    channel = np.concatenate([np.full(ids.shape, c, dtype=np.int8) for c, (_, ids) in enumerate(results)], axis=1)
    keep = dedupe_first(items)
    order = np.argsort(~keep, axis=1, kind="stable")[:, :top_n]  # kept entries first, in priority order
    kept = np.take_along_axis(keep, order, 1)
    return Candidates(item=np.where(kept, np.take_along_axis(items, order, 1), -1).astype(np.int32),
                      channel=np.where(kept, np.take_along_axis(channel, order, 1), -1).astype(np.int8),
                      score=np.where(kept, np.take_along_axis(scores, order, 1), 0).astype(np.float32))


class Retriever:
    """The retrieval stage for one arm and one day's catalogue."""

    def __init__(self, item_embeddings: np.ndarray, titles: np.ndarray, available: np.ndarray, cfg: RetrievalConfig,
                 lexical: LexicalIndex | None = None):
        """`lexical`: the day's title index if already built (over the same titles and listings)."""
        self.cfg = cfg
        self.ann = AnnIndex(item_embeddings, available, cfg)
        self.lexical = lexical or LexicalIndex(titles, available, cfg.lexical_cache)
        per_seed = -(-cfg.i2i_quota // cfg.i2i_recent)
        self.i2i_scores, self.i2i_ids = self.ann.search(item_embeddings, per_seed)  # (n_items, per_seed)

    def i2i(self, recent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Neighbours of each recent behaviour item, interleaved by rank across seeds."""
        r, n_seeds = recent.shape
        quota = self.cfg.i2i_quota
        seed = np.maximum(recent, 0)
        has = (recent >= 0)[..., None]
        scores = np.where(has, self.i2i_scores[seed], 0.0).astype(np.float32)  # (R, seeds, per_seed)
        ids = np.where(has, self.i2i_ids[seed], -1).astype(np.int32)
        # Rank-major interleave: every seed's best match first, then every seed's second, ...
        return (scores.transpose(0, 2, 1).reshape(r, -1)[:, :quota],
                ids.transpose(0, 2, 1).reshape(r, -1)[:, :quota])

    def __call__(self, query_embeddings: np.ndarray, recent_items: np.ndarray, query_texts: np.ndarray) -> Candidates:
        cfg = self.cfg
        match = self.lexical.match(query_texts)
        results = [self.ann.search(query_embeddings, cfg.query_quota), self.i2i(recent_items[:, -cfg.i2i_recent:]),
                   self.lexical.search(match, cfg.lexical_quota)]
        return dataclasses.replace(merge_channels(results, cfg.top_n), lexical=match)
