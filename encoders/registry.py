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


PROVIDERS: dict[str, Callable[[World, dict], EmbeddingProvider]] = {
    "latent-noise": _latent_noise,
    "precomputed": _precomputed,
}


def make_provider(encoder: str, args: dict, world: World) -> EmbeddingProvider:
    """The provider named `encoder`, built with `args`; an unknown name is a ConfigError."""
    if encoder not in PROVIDERS:
        raise ConfigError(f"encoder: unknown encoder {encoder!r} (known: {sorted(PROVIDERS)})")
    return PROVIDERS[encoder](world, dict(args))
