"""Experiment configuration: typed, frozen dataclasses, one per TOML section.

`ExperimentConfig` gathers the sections (adsim.core.config_sections: world, traffic, clicks,
stages, engine, bootstrap, encoder training) with the arms and the studies (exchange-rate sweep,
scaling). `load_config` reads a TOML file (or the built-in defaults, identical to
experiments/demo.toml), applies `--set dotted.key=value` overrides and validates everything with
adsim.core.validation, which names the dotted key of any problem.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from adsim.core.config_sections import (
    AuctionConfig,
    BootstrapConfig,
    ClickConfig,
    EncoderTrainConfig,
    EngineConfig,
    ModalityMix,
    RankerConfig,
    RelevanceConfig,
    RetrievalConfig,
    TrafficConfig,
    WorldConfig,
)
from adsim.core.errors import ConfigError
from adsim.core.rng import generator, replicate_seed
from adsim.core.validation import apply_overrides, bounded, digest, load_raw, parse
from adsim.core.vocab import DOWNSTREAM

__all__ = ["AuctionConfig", "BootstrapConfig", "ClickConfig", "EncoderTrainConfig", "EngineConfig", "ModalityMix",
           "RankerConfig", "RelevanceConfig", "RetrievalConfig", "TrafficConfig", "WorldConfig", "ArmConfig", "SweepConfig",
           "ScalingConfig", "ExperimentConfig", "STAGE_SECTIONS", "SCALING_AXES", "load_config"]


@dataclass(frozen=True)
class ArmConfig:
    """One arm: its embedding provider and optional overrides of stage settings."""

    encoder: str = "latent-noise"  # the arm's embedding provider (docs/reference/README.md#embedding-providers-encoder)
    encoder_args: dict[str, Any] = field(default_factory=dict)  # its arguments
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # e.g. {auction = {alpha = 1.5}}
    click_stream: int = bounded(0, ge=0)  # > 0: click draws independent of stream 0 (A/A checks of the statistics)

    def validate(self, path: str) -> None:
        for section, table in self.overrides.items():
            if section not in STAGE_SECTIONS:
                raise ConfigError(f"{path}.overrides.{section}: not a stage section (one of {sorted(STAGE_SECTIONS)})")
            defaults = dataclasses.asdict(STAGE_SECTIONS[section]())
            parse(STAGE_SECTIONS[section], {**defaults, **table}, f"{path}.overrides.{section}")


def _default_variants() -> dict[str, ArmConfig]:
    """Latent-noise profiles around the default control (noise 1.0) that differ per channel."""
    profiles = {"all_0.3": {"noise": 0.3}, "all_0.6": {"noise": 0.6}, "all_1.5": {"noise": 1.5},
                "visual_0.4": {"visual_noise": 0.4}, "text_0.4": {"text_noise": 0.4},
                "taste_0.4": {"taste_noise": 0.4}, "visual_text_0.6": {"visual_noise": 0.6, "text_noise": 0.6}}
    return {name: ArmConfig("latent-noise", {"noise": 1.0} | args) for name, args in profiles.items()}


@dataclass(frozen=True)
class FamilyConfig:
    """A family of sweep variants written in a few lines: one arm per combination of `grid`'s values,
    each over `base` (the encoder's arguments), e.g. a latent-noise grid, or Matryoshka sizes and
    scalar quantisations of a MOON encoder the sweep trains (`of` names it, e.g. "moon_post150").

    With `draws` > 0 the family is a random sample instead, as a team's iterations are: `draws`
    members, each argument drawn uniformly between its grid's smallest and largest value (one of the
    values, when they are not numbers), from the experiment's seed and replicate. A replicate of the
    sweep then serves new members, which is what a coverage study of the rate needs
    (adsim.studies.exchange_coverage)."""

    encoder: str = "latent-noise"  # the members' embedding provider
    of: str | None = None                 # a trained MOON variant of the sweep: its encoder and arguments, then the grid's
    base: dict[str, Any] = field(default_factory=dict)  # arguments every member shares
    grid: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # argument -> its values (draws > 0: its range)
    draws: int = bounded(0, ge=0)         # > 0: this many members drawn at random over the grid's ranges

    def validate(self, path: str) -> None:
        if not self.grid or any(not v for v in self.grid.values()):
            raise ConfigError(f"{path}.grid: give each argument a non-empty list of values, e.g. grid = {{ noise = [0.5, 1.5] }}")
        clash = sorted(set(self.grid) & set(self.base))
        if clash:
            raise ConfigError(f"{path}: {clash} set in both base and grid")

    @property
    def size(self) -> int:
        return self.draws or math.prod(len(v) for v in self.grid.values())

    def members(self, family: str, base: dict[str, Any] | None = None, seed: tuple[int, int] = (0, 0)) -> dict[str, dict[str, Any]]:
        """Variant name -> encoder arguments, over `base` (the `of` variant's arguments) and this
        family's own `base`: one per combination of the grid's values, or `draws` drawn under
        `seed` (the experiment's seed and replicate)."""
        if self.draws:
            rng = generator(seed[0], "family-draws", family, seed[1])
            combos = [{k: _draw(rng, v) for k, v in self.grid.items()} for _ in range(self.draws)]
        else:
            combos = self._grid_combos()
        return {n: dict(base or {}) | self.base | c for n, c in zip(self.member_names(family), combos)}

    def _grid_combos(self) -> list[dict[str, Any]]:
        return [dict(zip(self.grid, c)) for c in itertools.product(*self.grid.values())]

    def member_names(self, family: str) -> list[str]:
        """The members' names: they do not depend on the draws."""
        if self.draws:
            return [f"{family}_draw{k:02d}" for k in range(self.draws)]
        return [family + "_" + "_".join(f"{k}{v}" for k, v in c.items()) for c in self._grid_combos()]


def _draw(rng, values: tuple[Any, ...]) -> Any:
    """One value: uniform between the smallest and largest number (3 decimals), else one of `values`."""
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return round(float(rng.uniform(min(values), max(values))), 3)
    return values[int(rng.integers(len(values)))]


@dataclass(frozen=True)
class SweepConfig:
    """Exchange-rate sweep: embedding variants, each served as an arm against the control."""

    # exchange-rate variants, each an arm spec like arms.<name>
    variants: dict[str, ArmConfig] = field(default_factory=_default_variants)
    # plus MOON encoders trained here (encoder_train, these post-training lengths)
    moon_posttrain_steps: tuple[int, ...] = (50, 150)
    moon_variants: dict[str, dict[str, Any]] = field(default_factory=dict)  # plus named MOON encoders: encoder_train changes each
    families: dict[str, FamilyConfig] = field(default_factory=dict)  # plus variant families, each a grid over one encoder
    # > 0: the longest moon_posttrain_steps run also serves its model every this many steps
    moon_snapshots: int = bounded(0, ge=0)
    baseline: str | None = None        # a variant every other is also compared with (paired lifts; its place against the line)
    downstream: tuple[str, ...] = DOWNSTREAM  # downstream metrics fitted
    primary: str = "expected_ctr"      # the downstream metric the ranking of intermediate metrics is for
    workers: int = bounded(1, ge=1)    # ranks started to serve the variants (torch.distributed, as under torchrun)
    n_bootstrap: int = bounded(500, ge=50)  # bootstrap resamples for the slopes' CIs
    # the slope: noise in the intermediate metric corrected (tc), errors in both (york), or plain weighted
    # least squares (wls)
    estimator: Literal["tc", "york", "wls"] = "tc"

    def validate(self, path: str) -> None:
        for name in self.moon_variants:
            self.moon_variant_changes(name, path)  # unknown keys and bad values, by name
        for name, f in self.families.items():
            if f.of is not None and f.of not in self.trained_names():
                raise ConfigError(f"{path}.families.{name}.of: {f.of!r} is not a MOON variant the sweep trains "
                                  f"(one of {sorted(self.trained_names())})")
        if len(self.variants) + len(self.moon_posttrain_steps) + len(self.moon_variants) + self.n_family_members() < 3:
            raise ConfigError(f"{path}: a sweep needs at least 3 variants to fit a slope and leave one out")
        if self.moon_snapshots and not self.moon_posttrain_steps:
            raise ConfigError(f"{path}.moon_snapshots: needs a MOON run to take them from (moon_posttrain_steps)")
        if any(s < 0 for s in self.moon_posttrain_steps):
            raise ConfigError(f"{path}.moon_posttrain_steps: must be >= 0, got {list(self.moon_posttrain_steps)}")
        names = self.variant_names()
        if self.baseline is not None and self.baseline not in names:
            raise ConfigError(f"{path}.baseline: {self.baseline!r} is not a variant of the sweep (one of {sorted(names)})")
        if len(names) < len(self.variants) + len(self.moon_posttrain_steps) + len(self.moon_variants) + self.n_family_members():
            raise ConfigError(f"{path}: variant names must be unique across variants, moon_variants, moon_posttrain_steps and families")
        if "control" in self.variants:
            raise ConfigError(f"{path}.variants: 'control' is the config's control arm, not a variant")
        bad = [d for d in (*self.downstream, self.primary) if d not in DOWNSTREAM]
        if bad:
            raise ConfigError(f"{path}: unknown downstream metric(s) {bad} (one of {list(DOWNSTREAM)})")
        if self.primary not in self.downstream:
            raise ConfigError(f"{path}.primary: must be one of downstream {list(self.downstream)}")


    def moon_variant_changes(self, name: str, path: str = "sweep") -> dict[str, Any]:
        """A named MOON variant's encoder_train changes, typed (TOML arrays become the field's tuples)."""
        changes = self.moon_variants[name]
        parsed = parse(EncoderTrainConfig, changes, f"{path}.moon_variants.{name}")
        return {k: getattr(parsed, k) for k in changes}

    def trained_names(self) -> set[str]:
        """The MOON variants the sweep trains itself."""
        return set(self.moon_variants) | {f"moon_post{s}" for s in self.moon_posttrain_steps}

    def family_variants(self, seed: tuple[int, int] = (0, 0)) -> dict[str, ArmConfig]:
        """The families' members that need no training (no `of`), as arms (drawn families under
        `seed`: the experiment's seed and replicate)."""
        return {n: ArmConfig(f.encoder, args) for name, f in self.families.items() if f.of is None
                for n, args in f.members(name, seed=seed).items()}

    def n_family_members(self) -> int:
        return sum(f.size for f in self.families.values())

    def family_of(self, variant: str) -> str | None:
        """The family a variant belongs to: a `families` entry, or "moon" for every MOON encoder the
        sweep trains and the checkpoints along its run; None for a listed variant."""
        for name, f in self.families.items():
            if variant in f.member_names(name):
                return name
        trained = self.trained_names()
        if variant in trained or any(variant.startswith(f"{t}_step") for t in trained):
            return "moon"
        return None

    def variant_names(self) -> set[str]:
        names = set(self.variants) | self.trained_names()
        return names | {n for name, f in self.families.items() for n in f.member_names(name)}


SCALING_AXES = ("train_tokens", "negatives", "seq_len")


@dataclass(frozen=True)
class ScalingConfig:
    """A scaling study: one axis, several values, each a variant against the control.

    train_tokens: post-training steps of the treatment MOON encoder (tokens = steps x batch x sequence);
    negatives: its post-training negatives per query; seq_len: behaviour items the treatment's ranker reads.
    """

    axis: Literal["train_tokens", "negatives", "seq_len"] = "seq_len"  # train_tokens, negatives or seq_len
    values: tuple[int, ...] = (2, 5, 10, 20, 50)  # its values, one variant each

    def validate(self, path: str) -> None:
        if len(set(self.values)) < 3 or min(self.values) < 1:
            raise ConfigError(f"{path}.values: need at least 3 distinct positive values to fit a power law, got {list(self.values)}")


STAGE_SECTIONS = {"retrieval": RetrievalConfig, "relevance": RelevanceConfig, "ranker": RankerConfig,
                  "auction": AuctionConfig}


def _default_arms() -> dict[str, ArmConfig]:
    return {"control": ArmConfig("latent-noise", {"noise": 1.0}),
            "treatment": ArmConfig("latent-noise", {"noise": 0.5})}


@dataclass(frozen=True)
class ExperimentConfig:
    """One experiment: the seed, the world, its traffic, the click model, the ad system and arms."""

    seed: int = bounded(2026, ge=0)  # drives every random draw
    name: str = "demo"  # label for outputs
    # > 0: a replicate of the run on the same world (catalogue, users, history) that re-draws what
    # the arms do not control: served traffic, day-0 exploration, labels, training seeds,
    # latent-noise draws and clicks (adsim.studies.replicates)
    replicate: int = bounded(0, ge=0)
    world: WorldConfig = WorldConfig()
    traffic: TrafficConfig = TrafficConfig()
    clicks: ClickConfig = ClickConfig()
    retrieval: RetrievalConfig = RetrievalConfig()
    relevance: RelevanceConfig = RelevanceConfig()
    ranker: RankerConfig = RankerConfig()
    auction: AuctionConfig = AuctionConfig()
    engine: EngineConfig = EngineConfig()
    bootstrap: BootstrapConfig = BootstrapConfig()
    encoder_train: EncoderTrainConfig = EncoderTrainConfig()
    arms: dict[str, ArmConfig] = field(default_factory=_default_arms)  # the arms, by name; `control` is required
    sweep: SweepConfig = SweepConfig()
    scaling: ScalingConfig = ScalingConfig()

    def validate(self, path: str) -> None:
        if "control" not in self.arms:
            raise ConfigError("arms: an arm named 'control' is required (lifts are measured against it)")
        if self.traffic.n_days < 2:
            raise ConfigError("traffic.n_days: must be >= 2 (day 0 trains the arms, later days are served)")

    @property
    def run_seed(self) -> int:
        """The seed of everything but the world's population: `seed` for the base run (replicate 0)."""
        return replicate_seed(self.seed, self.replicate)

    def stage(self, section: str, arm: str | ArmConfig | None = None) -> Any:
        """A stage's settings, with the arm's overrides applied when `arm` (a name or a spec) is given."""
        base = getattr(self, section)
        spec = self.arms[arm] if isinstance(arm, str) else arm
        table = spec.overrides.get(section) if spec is not None else None
        if not table:
            return base
        return parse(type(base), {**dataclasses.asdict(base), **table}, f"arm overrides.{section}")

    def system_dict(self) -> dict[str, Any]:
        """Every setting that shapes an arm's outcome except the arm lists (for resumable runs)."""
        d = self.to_dict()
        for key in ("name", "arms", "sweep", "scaling"):
            d.pop(key)
        return d

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def hash(self) -> str:
        """Stable digest of every setting, for run metadata."""
        return digest(self.to_dict())


def load_config(path: str | Path | None = None, overrides: typing.Iterable[str] = ()) -> ExperimentConfig:
    """Load and validate an experiment config; no path means the built-in defaults (= demo)."""
    raw = load_raw(path) if path is not None else {}
    if "arms" not in raw:  # so that --set arms.treatment.x=... edits the default arms
        raw["arms"] = {name: dataclasses.asdict(arm) for name, arm in _default_arms().items()}
    return parse(ExperimentConfig, apply_overrides(raw, overrides))
