"""Encoder names in config -> (argument dataclass, factory).

`parse_encoder_args` checks an `encoder_args` table against its provider's dataclass (one
ConfigError naming the dotted key); `check_encoders` does it for every provider a config names,
right after loading, before any world is built. `make_provider` builds a provider from the
world's view (`World.view`); only `latent-noise`, whose purpose is to project the true factors,
receives the whole world. Factories import their modules lazily, so this registry stays light.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from adsim.core.config import ArmConfig, ExperimentConfig
from adsim.core.errors import ConfigError
from adsim.core.validation import digest, parse
from adsim.core.versions import file_digest
from encoders.provider import EmbeddingProvider
from encoders.provider_args import HfArgs, LatentNoiseArgs, MiniLMArgs, PrecomputedArgs, RandomArgs, TrainedArgs

if TYPE_CHECKING:
    from adsim.world.build import World


def _latent_noise(world, args: LatentNoiseArgs) -> EmbeddingProvider:
    from encoders.latent_noise import LatentNoiseProvider
    return LatentNoiseProvider(world, args)


def _precomputed(view, args: PrecomputedArgs) -> EmbeddingProvider:
    from encoders.precomputed import PrecomputedProvider
    return PrecomputedProvider(view, args)


def _trained(kind: str) -> Callable[[Any, TrainedArgs], EmbeddingProvider]:
    def make(view, args: TrainedArgs) -> EmbeddingProvider:
        from encoders.trained import TrainedEncoderProvider
        return TrainedEncoderProvider(view, args, name=kind)
    return make


def _hf(view, args: HfArgs) -> EmbeddingProvider:
    from encoders.baselines import HfTextProvider
    return HfTextProvider(view, args)


def _minilm(view, args: MiniLMArgs) -> EmbeddingProvider:
    from encoders.baselines import HfTextProvider, minilm_path
    return HfTextProvider(view, HfArgs(path=str(minilm_path()), pooling=args.pooling, max_length=args.max_length),
                          name="minilm")


def _random(view, args: RandomArgs) -> EmbeddingProvider:
    from encoders.baselines import RandomProjectionProvider
    return RandomProjectionProvider(view, args)


def _no_files(args: Any) -> list[Path]:
    return []


def _model_files(folder: Path) -> list[Path]:
    """Weights, config and tokenizer files of a checkpoint folder (or of its `model/` subfolder)."""
    folder = folder / "model" if (folder / "model" / "config.json").exists() else folder
    return sorted(p for p in folder.glob("*") if p.suffix in (".safetensors", ".bin", ".json", ".txt"))


def _minilm_files(args: Any) -> list[Path]:
    from encoders.baselines import minilm_path
    return _model_files(minilm_path())


@dataclass(frozen=True)
class ProviderEntry:
    """How to build one kind of provider: its arguments, its factory, the files it reads (whose
    digests key cached results), and whether each arm draws its own randomness (`stream`)."""

    args: type
    factory: Callable[[Any, Any], EmbeddingProvider]
    files: Callable[[Any], list[Path]] = _no_files
    reads_truth: bool = False  # True only for latent-noise: it receives the whole World
    stream_per_arm: bool = False  # latent-noise: projections and noise drawn per arm unless `stream` is set


PROVIDERS: dict[str, ProviderEntry] = {
    "latent-noise": ProviderEntry(LatentNoiseArgs, _latent_noise, reads_truth=True, stream_per_arm=True),
    "precomputed": ProviderEntry(PrecomputedArgs, _precomputed, files=lambda a: [Path(a.items), Path(a.queries)]),
    "moon": ProviderEntry(TrainedArgs, _trained("moon"), files=lambda a: _model_files(Path(a.path))),
    "clip": ProviderEntry(TrainedArgs, _trained("clip"), files=lambda a: _model_files(Path(a.path))),
    "hf": ProviderEntry(HfArgs, _hf, files=lambda a: _model_files(Path(a.path))),
    "minilm": ProviderEntry(MiniLMArgs, _minilm, files=_minilm_files),
    "random": ProviderEntry(RandomArgs, _random),
}


def parse_encoder_args(encoder: str, args: dict, path: str = "") -> Any:
    """The typed arguments of provider `encoder`; an unknown name or a bad value is one ConfigError."""
    prefix = f"{path}." if path else ""
    if encoder not in PROVIDERS:
        raise ConfigError(f"{prefix}encoder: unknown encoder {encoder!r} (known: {sorted(PROVIDERS)})")
    return parse(PROVIDERS[encoder].args, dict(args), f"{prefix}encoder_args")


def check_encoders(cfg: ExperimentConfig) -> None:
    """Check every provider `cfg` names (bootstrap, arms, sweep variants) before any work."""
    specs: dict[str, ArmConfig] = {"bootstrap": ArmConfig(cfg.bootstrap.encoder, cfg.bootstrap.encoder_args)}
    specs |= {f"arms.{n}": s for n, s in cfg.arms.items()}
    specs |= {f"sweep.variants.{n}": s for n, s in cfg.sweep.variants.items()}
    specs |= {f"sweep.families.{n}": s for n, s in cfg.sweep.family_variants().items()}
    for path, spec in specs.items():
        parse_encoder_args(spec.encoder, spec.encoder_args, path)
    for name, f in cfg.sweep.families.items():  # a trained variant's family: its grid must be arguments of a trained encoder
        for args in f.members(name, {"path": ""}).values() if f.of is not None else ():
            parse_encoder_args("moon", args, f"sweep.families.{name}")


def input_digest(encoder: str, args: dict) -> str:
    """A digest of the contents of every file provider `encoder` reads with `args` (weights,
    embeddings), so results cached from a retrained checkpoint are recognised as stale."""
    parsed = parse_encoder_args(encoder, args)
    return digest({str(p): file_digest(p) for p in PROVIDERS[encoder].files(parsed)})


def make_provider(encoder: str, args: dict, world: "World") -> EmbeddingProvider:
    """The provider named `encoder`, built with `args` on `world` (its view, unless it reads truth)."""
    parsed = parse_encoder_args(encoder, args)
    entry = PROVIDERS[encoder]
    return entry.factory(world if entry.reads_truth else world.view, parsed)
