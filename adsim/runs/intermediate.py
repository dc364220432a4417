"""Intermediate metrics of an embedding space, on held-out queries of the world.

- image_search_recall@K: a shopper's photo (image query) -> its target product, over the whole
  catalogue; text_recall@K and multimodal_recall@K likewise for the other modalities;
- i2i_recall@K: another catalogue view of a product (image only) -> the product (providers that
  can embed images alone);
- personal_auc: the user's last `USER_HISTORY` logged clicks (the mean of their item embeddings)
  scored against the items of the category a held-out request is for: the probability that the
  product the user is after scores above another item of that category. It shows what an
  embedding knows of a user's taste and preferences, which no query states (the ranker reads the
  same similarity). Recall of that product is hopeless for every embedding (recall@10 0.04-0.06
  within the category on the demo world, near chance), so the whole ranking is scored;
- probe_<attribute>_acc for leaf, colour, pattern, style and brand: held-out accuracy of a ridge
  linear probe on item embeddings (the fine-grained attributes MOON3.0's reasoning targets);
- alignment (mean squared distance query->target, lower is better) and uniformity
  (log mean exp(-2 d^2) over random item pairs, lower is more uniform), after Wang & Isola (2020).
Held-out queries are a sample of the world's held-out day (drawn by the same story as the
traffic but never served, so no arm trains on them and their errors are independent of the
served lifts), each labelled with the product its shopper was after (`labelled_queries`, read
from the world's answers: evaluation may read the truth); everything the metrics score is read
from the world's view and the provider's embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import faiss
import numpy as np
import scipy.sparse as sp

from adsim.core.rng import generator
from adsim.core.taxonomy import COLOURS, LEAVES, PATTERNS, STYLES
from adsim.core.vocab import PERSONAL_AUC, PROBES, QUERY_TASKS, RECALL_KS, Modality, probe_metric, recall_metric
from adsim.world.build import World
from adsim.world.view import WorldView
from encoders.provider import EmbeddingProvider
from stages.sequences import left_padded

KS = RECALL_KS
MAX_QUERIES = 2000
USER_HISTORY = 10  # logged clicks a user-to-item query reads
PROBE_CHUNK = 8192  # items a probe reads at a time


def hits_at_k(query: np.ndarray, items: np.ndarray, target: np.ndarray, k: int = max(KS)) -> np.ndarray:
    """(N, k) bool: whether rank j of query i's exact top-k over `items` is its target."""
    index = faiss.IndexFlatIP(items.shape[1])
    index.add(np.ascontiguousarray(items, dtype=np.float32))
    _, top = index.search(np.ascontiguousarray(query, dtype=np.float32), k)
    return top == target[:, None]


def _with_intercept(x: np.ndarray) -> np.ndarray:
    return np.hstack([x, np.ones((len(x), 1), x.dtype)]).astype(np.float64)


def ridge_probe(x: np.ndarray, y: np.ndarray, n_classes: int, seed: int, lam: float = 1.0) -> np.ndarray:
    """Per held-out item (30 %, by seed), whether a one-vs-all ridge classifier gets it right: its
    mean is the probe's accuracy. Normal equations and predictions go PROBE_CHUNK items at a time:
    at a million items, whole float64 copies of the inputs and a (chunk, 2,000 brands) score table
    of 65,536 rows took 2 GB."""
    order = generator(seed, "probe").permutation(len(x))
    n_train = int(0.7 * len(x))
    tr, te = order[:n_train], order[n_train:]
    gram = np.zeros((x.shape[1] + 1, x.shape[1] + 1))
    per_class = np.zeros((n_classes, x.shape[1] + 1))  # A^T Y with Y one-hot: per-class sums of rows
    for s in range(0, len(tr), PROBE_CHUNK):
        rows = tr[s:s + PROBE_CHUNK]
        a = _with_intercept(x[rows])
        gram += a.T @ a
        per_class += sp.csr_matrix((np.ones(len(rows)), (y[rows], np.arange(len(rows)))), shape=(n_classes, len(rows))) @ a
    w = np.linalg.solve(gram + lam * np.eye(len(gram)), per_class.T)
    pred = np.concatenate([np.zeros(0, np.int64)] + [np.argmax(_with_intercept(x[te[s:s + PROBE_CHUNK]]) @ w, 1)
                                                     for s in range(0, len(te), PROBE_CHUNK)])
    return (pred == y[te]).astype(np.float32)


def held_out_requests(view: WorldView, seed: int) -> np.ndarray:
    """Up to MAX_QUERIES requests per modality from the held-out day (the world's last, never
    served), sampled by `seed`."""
    req = view.requests
    last = req.request_id[req.day == req.day.max()]
    rng = generator(seed, "benchmark-queries")
    return np.concatenate([np.sort(rng.permutation(last[req.modality[last] == m])[:MAX_QUERIES]) for m in Modality])


def within_leaf_auc(query: np.ndarray, items: np.ndarray, target: np.ndarray, leaf: np.ndarray) -> np.ndarray:
    """Per query, the share of the target's leaf mates scored below the target (ties half); NaN
    where the leaf has no other item. Its mean is the AUC."""
    out = np.full(len(target), np.nan)
    target_leaf = leaf[target]
    for l in np.unique(target_leaf):
        rows, members = np.flatnonzero(target_leaf == l), np.flatnonzero(leaf == l)
        if len(members) < 2:
            continue
        scores = query[rows] @ items[members].T
        # The target's own score read from the same matmul: a separately computed dot product can
        # round differently (with the BLAS thread count, say) and count the target against itself.
        own = np.take_along_axis(scores, np.searchsorted(members, target[rows])[:, None], 1)
        out[rows] = ((scores < own).sum(1) + 0.5 * (scores == own).sum(1) - 0.5) / (len(members) - 1)
    return out


def user_queries(view: WorldView, item_emb: np.ndarray, user_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, d) mean item embeddings of each user's last USER_HISTORY logged clicks, normalised, and
    (N,) whether the user has any."""
    h = view.history
    seq = left_padded(h.user_id, h.item_id, view.n_users, USER_HISTORY)[user_ids]
    valid = seq >= 0
    mean = (item_emb[np.maximum(seq, 0)] * valid[..., None]).sum(1)
    norm = np.linalg.norm(mean, axis=1, keepdims=True)
    return (mean / np.maximum(norm, 1e-12)).astype(np.float32), valid.any(1) & (norm[:, 0] > 0)


@dataclass(frozen=True)
class LabelledQueries:
    """Held-out requests and the product each one's shopper was after (the labels)."""

    request_id: np.ndarray  # (N,) from `held_out_requests`
    target: np.ndarray      # (N,) item ids


def query_hits(view: WorldView, queries: LabelledQueries, item_emb: np.ndarray,
               query_emb: Callable[[np.ndarray], np.ndarray],
               view_emb: Callable[[np.ndarray, int], np.ndarray] | None = None) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-query top-100 hits for each retrieval task (text, image_search, multimodal, i2i), and the
    held-out queries' embeddings."""
    ids, target = queries.request_id, queries.target
    q = query_emb(ids)
    modality = view.requests.modality[ids]
    hits: dict[str, np.ndarray] = {}
    for name, m in QUERY_TASKS.items():
        rows = modality == m
        if rows.any():
            hits[name] = hits_at_k(q[rows], item_emb, target[rows])
    if view_emb is not None:
        multi = np.flatnonzero(view.items.n_views >= 2)[:MAX_QUERIES]
        if len(multi):
            hits["i2i"] = hits_at_k(view_emb(multi, 1), item_emb, multi)
    return hits, q


@dataclass(frozen=True)
class IntermediateResult:
    """Every intermediate metric of one embedding space; the per-query hits behind its recalls
    (task -> (N, 100) bool), which paired comparisons of encoders need; and per metric the per-unit
    values (query, held-out item) whose mean it is, NaN where undefined, in an order fixed by the
    queries and the seed, so resampling them pairs arms (uniformity, not a mean, has none)."""

    metrics: dict[str, float]
    hits: dict[str, np.ndarray]
    per_unit: dict[str, np.ndarray]


def probe_classes(view: WorldView) -> dict[str, int]:
    """Classes of each probed attribute (brands: as many as the catalogue's ids reach)."""
    return {"leaf": len(LEAVES), "colour": len(COLOURS), "pattern": len(PATTERNS), "style": len(STYLES),
            "brand": int(view.items.brand.max()) + 1}


def measure_intermediate(view: WorldView, queries: LabelledQueries, item_emb: np.ndarray,
                         query_emb: Callable[[np.ndarray], np.ndarray],
                         view_emb: Callable[[np.ndarray, int], np.ndarray] | None = None, seed: int = 0) -> IntermediateResult:
    """Every intermediate metric of one embedding space (see module docstring), with the per-query
    hits behind its recalls and the per-unit values behind every mean."""
    per_query, q = query_hits(view, queries, item_emb, query_emb, view_emb)
    units: dict[str, np.ndarray] = {}
    for name, hit in per_query.items():
        for k in KS:
            units[recall_metric(name, k)] = hit[:, :k].any(1).astype(np.float32)
    classes = probe_classes(view)
    for name in PROBES:
        labels = getattr(view.items, name).astype(np.int64)
        units[probe_metric(name)] = ridge_probe(item_emb, labels, classes[name], seed)
    user_q, has = user_queries(view, item_emb, view.requests.user_id[queries.request_id])
    auc = np.full(len(has), np.nan)
    auc[has] = within_leaf_auc(user_q[has], item_emb, queries.target[has], view.items.leaf)
    units[PERSONAL_AUC] = auc
    units["alignment"] = ((q - item_emb[queries.target]) ** 2).sum(1)
    out = {name: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan") for name, v in units.items()}
    rng = generator(seed, "uniformity")
    a, b = rng.integers(0, len(item_emb), (2, 5000))
    d2 = ((item_emb[a] - item_emb[b]) ** 2).sum(1)
    out["uniformity"] = float(np.log(np.mean(np.exp(-2 * d2[a != b]))))
    return IntermediateResult(out, per_query, units)


def labelled_queries(world: World, seed: int) -> LabelledQueries:
    """The held-out queries with the product each shopper was after (read from the world's answers)."""
    ids = held_out_requests(world.view, seed)
    return LabelledQueries(request_id=ids, target=world.requests.intent.target[ids])


def provider_intermediate(world: World, provider: EmbeddingProvider, seed: int = 0) -> IntermediateResult:
    """Every intermediate metric of `provider`, with the per-query hits (item-to-item recall where
    the provider can embed catalogue views alone)."""
    return measure_intermediate(world.view, labelled_queries(world, seed), provider.item_embeddings(),
                                provider.query_embeddings, getattr(provider, "view_embeddings", None), seed=seed)


def provider_metrics(world: World, provider: EmbeddingProvider, seed: int = 0) -> dict[str, float]:
    """`provider_intermediate`'s metrics alone."""
    return provider_intermediate(world, provider, seed).metrics
