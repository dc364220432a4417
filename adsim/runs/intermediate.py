"""Intermediate metrics of an arm's embeddings: the encoders' benchmark, labelled by the world.

The benchmark (encoders.benchmark) reads only the world's view; the labels it scores against,
which product each held-out query's shopper was after, come from the world's answers here.
"""

from __future__ import annotations

from adsim.world.build import World
from encoders.benchmark import BenchmarkResult, LabelledQueries, held_out_requests, run_benchmark
from encoders.provider import EmbeddingProvider


def labelled_queries(world: World, seed: int) -> LabelledQueries:
    """The benchmark's held-out queries with their targets."""
    ids = held_out_requests(world.view, seed)
    return LabelledQueries(request_id=ids, target=world.requests.intent.target[ids])


def provider_benchmark(world: World, provider: EmbeddingProvider, seed: int = 0) -> BenchmarkResult:
    """Every intermediate metric of `provider`, with the per-query hits (item-to-item recall where
    the provider can embed catalogue views alone)."""
    return run_benchmark(world.view, labelled_queries(world, seed), provider.item_embeddings(), provider.query_embeddings,
                         getattr(provider, "view_embeddings", None), seed=seed)


def provider_metrics(world: World, provider: EmbeddingProvider, seed: int = 0) -> dict[str, float]:
    """`provider_benchmark`'s metrics alone."""
    return provider_benchmark(world, provider, seed).metrics
