"""`adsim encoder eval --queries FILE`: a team's embeddings scored on its own query set.

recall@k of a query = the share of its relevant items in the exact top k over the whole item file
(FAISS inner product on unit vectors); with one relevant item it is the hit rate the world's
intermediate metrics report. Per query modality and over all queries, with a percentile bootstrap interval
over queries (the queries are the noise this covers; the choice of catalogue and of queries is not).
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from adsim.core.errors import DataError
from adsim.core.vocab import MODALITIES, RECALL_KS
from adsim.datasets.query_set import QuerySet
from adsim.stats.bootstrap import bootstrap_weights
from adsim.stats.lifts import percentile_interval
from adsim.reports.query_set_report import QuerySetReport
from encoders.precomputed import id_rows, read_id_embeddings


BLOCK = 4096  # queries compared with their relevant items together: (block, k, R) booleans


def query_recalls(query: np.ndarray, items: np.ndarray, relevant: np.ndarray, n_relevant: np.ndarray,
                  ks: tuple[int, ...]) -> dict[int, np.ndarray]:
    """Per query (Q,) recall@k for each k: relevant items in the top k over `n_relevant`; `relevant`
    (Q, R) holds item rows, -1 for padding and for relevant ids the catalogue lacks (misses)."""
    index = faiss.IndexFlatIP(items.shape[1])
    index.add(np.ascontiguousarray(items, dtype=np.float32))
    _, top = index.search(np.ascontiguousarray(query, dtype=np.float32), min(max(ks), len(items)))
    out = {k: np.zeros(len(query)) for k in ks}
    for s in range(0, len(query), BLOCK):
        rel = relevant[s:s + BLOCK]
        found = top[s:s + BLOCK, :, None] == np.where(rel >= 0, rel, -2)[:, None, :]  # (block, K, R)
        for k in ks:
            out[k][s:s + BLOCK] = found[:, :k].any(1).sum(1) / n_relevant[s:s + BLOCK]
    return out


def evaluate_query_set(query_set: QuerySet, name: str, items_path: str | Path, queries_path: str | Path,
                         seed: int = 0, n_boot: int = 500) -> QuerySetReport:
    item_ids, items = read_id_embeddings(items_path, "item_id", "item embeddings")
    query_ids, queries = read_id_embeddings(queries_path, "query_id", "query embeddings")
    if items.shape[1] != queries.shape[1]:
        raise DataError(f"item embeddings have dimension {items.shape[1]} but query embeddings {queries.shape[1]}")
    qrow = id_rows(query_set.query_id, query_ids)
    if (qrow < 0).any():
        raise DataError(f"query embeddings {queries_path} lack query_id {query_set.query_id[qrow < 0][0]!r} ({(qrow < 0).sum()} in all)")
    n_rel = np.array([len(r) for r in query_set.relevant])
    flat = id_rows(np.concatenate([np.asarray(r, dtype=object) for r in query_set.relevant]), item_ids)
    relevant = np.full((len(n_rel), n_rel.max()), -1, np.int64)
    relevant[np.repeat(np.arange(len(n_rel)), n_rel), np.arange(len(flat)) - np.repeat(np.cumsum(n_rel) - n_rel, n_rel)] = flat
    missing = int((flat < 0).sum())
    recall = query_recalls(queries[qrow], items, relevant, n_rel, RECALL_KS)
    weights = bootstrap_weights(seed, len(n_rel), n_boot, "query-set")
    scopes = {"all": np.ones(len(n_rel), bool)} | {MODALITIES[m]: query_set.modality == m for m in sorted(set(query_set.modality.tolist()))}
    metrics = {}
    for scope, mask in scopes.items():
        w = weights[:, mask]
        metrics[scope] = {}
        for k, r in recall.items():
            lo, hi = percentile_interval((w @ r[mask]) / np.maximum(w.sum(1), 1e-12))
            metrics[scope][f"recall@{k}"] = {"value": float(r[mask].mean()), "ci_low": lo, "ci_high": hi}
    return QuerySetReport(query_set=name, n_queries=len(n_rel), n_items=len(item_ids), relevant_not_in_catalogue=missing,
                            metrics=metrics)
