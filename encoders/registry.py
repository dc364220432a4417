"""Encoder names in config -> provider instances."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from adsim.core.errors import ConfigError
from adsim.world.build import World
from encoders.provider import EmbeddingProvider

if TYPE_CHECKING:
    from encoders.benchmark import BenchmarkResult


def _latent_noise(world: World, args: dict) -> EmbeddingProvider:
    from encoders.latent_noise import LatentNoiseProvider
    return LatentNoiseProvider(world, args)


def _precomputed(world: World, args: dict) -> EmbeddingProvider:
    from encoders.precomputed import PrecomputedProvider
    return PrecomputedProvider(world, args)


def _trained(kind: str) -> Callable[[World, dict], EmbeddingProvider]:
    def make(world: World, args: dict) -> EmbeddingProvider:
        from encoders.trained import TrainedEncoderProvider
        return TrainedEncoderProvider(world, args, name=kind)
    return make


def _hf(world: World, args: dict) -> EmbeddingProvider:
    from encoders.baselines import HfTextProvider
    return HfTextProvider(world, args)


def _minilm(world: World, args: dict) -> EmbeddingProvider:
    from encoders.baselines import HfTextProvider, minilm_path
    return HfTextProvider(world, {"path": str(minilm_path()), **args}, name="minilm")


def _random(world: World, args: dict) -> EmbeddingProvider:
    from encoders.baselines import RandomProjectionProvider
    return RandomProjectionProvider(world, args)


PROVIDERS: dict[str, Callable[[World, dict], EmbeddingProvider]] = {
    "latent-noise": _latent_noise,
    "precomputed": _precomputed,
    "moon": _trained("moon"),
    "clip": _trained("clip"),
    "hf": _hf,
    "minilm": _minilm,
    "random": _random,
}


def make_provider(encoder: str, args: dict, world: World) -> EmbeddingProvider:
    """The provider named `encoder`, built with `args`; an unknown name is a ConfigError."""
    if encoder not in PROVIDERS:
        raise ConfigError(f"encoder: unknown encoder {encoder!r} (known: {sorted(PROVIDERS)})")
    return PROVIDERS[encoder](world, dict(args))


def provider_metrics(world: World, provider: EmbeddingProvider, seed: int = 0) -> dict[str, float]:
    """The intermediate-metric benchmark for any provider (item-to-item recall where it can embed views)."""
    return provider_benchmark(world, provider, seed).metrics


def provider_benchmark(world: World, provider: EmbeddingProvider, seed: int = 0) -> "BenchmarkResult":
    """`provider_metrics` with the per-query hits."""
    from encoders.benchmark import run_benchmark
    return run_benchmark(world, provider.item_embeddings(), provider.query_embeddings,
                         getattr(provider, "view_embeddings", None), seed=seed)
