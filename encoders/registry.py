"""Encoder names in config -> provider instances."""

from __future__ import annotations

from typing import Callable

from adsim.errors import ConfigError
from adsim.world import World
from encoders.provider import EmbeddingProvider


def _latent_noise(world: World, args: dict) -> EmbeddingProvider:
    from encoders.latent_noise import LatentNoiseProvider
    return LatentNoiseProvider(world, args)


def _precomputed(world: World, args: dict) -> EmbeddingProvider:
    from encoders.precomputed import PrecomputedProvider
    return PrecomputedProvider(world, args)


def _moon(world: World, args: dict) -> EmbeddingProvider:
    from encoders.moon_provider import MoonProvider
    return MoonProvider(world, args)


PROVIDERS: dict[str, Callable[[World, dict], EmbeddingProvider]] = {
    "latent-noise": _latent_noise,
    "precomputed": _precomputed,
    "moon": _moon,
}


def make_provider(encoder: str, args: dict, world: World) -> EmbeddingProvider:
    """The provider named `encoder`, built with `args`; an unknown name is a ConfigError."""
    if encoder not in PROVIDERS:
        raise ConfigError(f"encoder: unknown encoder {encoder!r} (known: {sorted(PROVIDERS)})")
    return PROVIDERS[encoder](world, dict(args))


def provider_metrics(world: World, provider: EmbeddingProvider, seed: int = 0) -> dict[str, float]:
    """The intermediate-metric benchmark for any provider (item-to-item recall where it can embed views)."""
    from encoders.benchmark import intermediate_metrics
    return intermediate_metrics(world, provider.item_embeddings(), provider.query_embeddings,
                                getattr(provider, "view_embeddings", None), seed=seed)
