"""Intermediate metrics of an embedding space, on held-out queries of the world.

- image_search_recall@K: a shopper's photo (image query) -> its target product, over the whole
  catalogue; text_recall@K and multimodal_recall@K likewise for the other modalities;
- i2i_recall@K: another catalogue view of a product (image only) -> the product (providers that
  can embed images alone);
- probe_leaf_acc / probe_colour_acc / probe_pattern_acc: held-out accuracy of a ridge linear
  probe on item embeddings;
- alignment (mean squared distance query->target, lower is better) and uniformity
  (log mean exp(-2 d^2) over random item pairs, lower is more uniform), after Wang & Isola (2020).
Held-out queries are the last day's requests, never used in any training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import faiss
import numpy as np

from adsim.core.rng import generator
from adsim.world.behaviour import IMAGE, MULTIMODAL, TEXT
from adsim.experiments.stats import RatioMetric, bootstrap_weights, paired_lift
from adsim.core.taxonomy import COLOURS, LEAVES, PATTERNS
from adsim.world.build import World

KS = (1, 10, 100)
MAX_QUERIES = 2000


def hits_at_k(query: np.ndarray, items: np.ndarray, target: np.ndarray, k: int = max(KS)) -> np.ndarray:
    """(N, k) bool: whether rank j of query i's exact top-k over `items` is its target."""
    index = faiss.IndexFlatIP(items.shape[1])
    index.add(np.ascontiguousarray(items, dtype=np.float32))
    _, top = index.search(np.ascontiguousarray(query, dtype=np.float32), k)
    return top == target[:, None]


def recall_difference(hits_a: np.ndarray, hits_b: np.ndarray, k: int, seed: int, n_boot: int = 2000,
                      level: float = 0.95) -> tuple[float, float, float]:
    """recall@k of a minus that of b on the same queries, with a paired bootstrap CI over queries
    (the A/B statistics' paired lift, with queries in place of users)."""
    a, b = (h[:, :k].any(1).astype(np.float64) for h in (hits_a, hits_b))
    ones = np.ones_like(a)
    lift = paired_lift(RatioMetric(b, ones), RatioMetric(a, ones), bootstrap_weights(seed, len(a), n_boot), level)
    return lift.absolute, lift.abs_ci_low, lift.abs_ci_high


def ridge_probe(x: np.ndarray, y: np.ndarray, n_classes: int, seed: int, lam: float = 1.0) -> float:
    """Held-out accuracy (30 %) of a one-vs-all ridge classifier."""
    order = generator(seed, "probe").permutation(len(x))
    n_train = int(0.7 * len(x))
    tr, te = order[:n_train], order[n_train:]
    a = np.hstack([x, np.ones((len(x), 1), np.float32)]).astype(np.float64)
    w = np.linalg.solve(a[tr].T @ a[tr] + lam * np.eye(a.shape[1]), a[tr].T @ np.eye(n_classes)[y[tr]])
    return float((np.argmax(a[te] @ w, 1) == y[te]).mean())


def held_out_requests(world: World, seed: int) -> np.ndarray:
    req = world.requests
    last = req.request_id[req.day == req.day.max()]
    rng = generator(seed, "benchmark-queries")
    return np.concatenate([np.sort(rng.permutation(last[req.modality[last] == m])[:MAX_QUERIES]) for m in (TEXT, IMAGE, MULTIMODAL)])


def query_hits(world: World, item_emb: np.ndarray, query_emb: Callable[[np.ndarray], np.ndarray],
               view_emb: Callable[[np.ndarray, int], np.ndarray] | None = None, seed: int = 0,
               ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Per-query top-100 hits for each retrieval task (text, image_search, multimodal, i2i), plus the
    held-out queries' embeddings and targets."""
    req, items = world.requests, world.items
    ids = held_out_requests(world, seed)
    q = query_emb(ids)
    target = req.intent.target[ids]
    hits: dict[str, np.ndarray] = {}
    for name, m in (("text", TEXT), ("image_search", IMAGE), ("multimodal", MULTIMODAL)):
        rows = req.modality[ids] == m
        if rows.any():
            hits[name] = hits_at_k(q[rows], item_emb, target[rows])
    if view_emb is not None:
        multi = np.flatnonzero(items.n_views >= 2)[:MAX_QUERIES]
        if len(multi):
            hits["i2i"] = hits_at_k(view_emb(multi, 1), item_emb, multi)
    return hits, q, target


@dataclass(frozen=True)
class BenchmarkResult:
    """Every intermediate metric of one embedding space, and the per-query hits behind its recalls
    (task -> (N, 100) bool), which paired comparisons of encoders need."""

    metrics: dict[str, float]
    hits: dict[str, np.ndarray]


def run_benchmark(world: World, item_emb: np.ndarray, query_emb: Callable[[np.ndarray], np.ndarray],
                  view_emb: Callable[[np.ndarray, int], np.ndarray] | None = None, seed: int = 0) -> BenchmarkResult:
    """Every intermediate metric of one embedding space (see module docstring), with the per-query
    hits behind its recalls."""
    items = world.items
    per_query, q, target = query_hits(world, item_emb, query_emb, view_emb, seed)
    out: dict[str, float] = {}
    for name, hit in per_query.items():
        for k in KS:
            out[f"{name}_recall@{k}"] = float(hit[:, :k].any(1).mean())
    for name, values, n in (("leaf", items.leaf, len(LEAVES)), ("colour", items.colour, len(COLOURS)),
                            ("pattern", items.pattern, len(PATTERNS))):
        out[f"probe_{name}_acc"] = ridge_probe(item_emb, values.astype(np.int64), n, seed)
    out["alignment"] = float(((q - item_emb[target]) ** 2).sum(1).mean())
    rng = generator(seed, "uniformity")
    a, b = rng.integers(0, len(item_emb), (2, 5000))
    d2 = ((item_emb[a] - item_emb[b]) ** 2).sum(1)
    out["uniformity"] = float(np.log(np.mean(np.exp(-2 * d2[a != b]))))
    return BenchmarkResult(out, per_query)
