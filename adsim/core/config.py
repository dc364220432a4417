"""Experiment configuration: typed, frozen dataclasses, one per TOML section.

`load_config` reads a TOML file (or the built-in defaults, identical to experiments/demo.toml),
applies `--set dotted.key=value` overrides and validates everything with adsim.core.validation,
which names the dotted key of any problem.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from adsim.core.errors import ConfigError
from adsim.core.validation import apply_overrides, bounded, digest, load_raw, parse
from adsim.core.vocab import DOWNSTREAM


@dataclass(frozen=True)
class WorldConfig:
    """Sizes and knobs of the synthetic catalogue and user base."""

    n_items: int = bounded(20_000, ge=10)
    n_users: int = bounded(5_000, ge=2)
    n_advertisers: int = bounded(400, ge=1)
    image_size: int = bounded(32, ge=16, le=128)
    n_brands: int = bounded(240, ge=1)
    max_views: int = bounded(4, ge=1, le=4)
    seq_len: int = bounded(64, ge=1)  # longest behaviour sequence kept per user
    taste_dim: int = bounded(16, ge=2)
    history_days: int = bounded(30, ge=1)
    new_item_share: float = bounded(0.12, ge=0.0, le=1.0)
    budgets: bool = False  # give advertisers finite daily budgets


@dataclass(frozen=True)
class ModalityMix:
    """Share of requests per query modality; must sum to 1."""

    text: float = bounded(0.5, ge=0.0, le=1.0)
    image: float = bounded(0.3, ge=0.0, le=1.0)
    multimodal: float = bounded(0.2, ge=0.0, le=1.0)

    def validate(self, path: str) -> None:
        total = self.text + self.image + self.multimodal
        if abs(total - 1.0) > 1e-6:
            raise ConfigError(f"{path}: shares must sum to 1 (got {total:g})")

    def shares(self) -> tuple[float, float, float]:
        return (self.text, self.image, self.multimodal)


@dataclass(frozen=True)
class TrafficConfig:
    """Search requests: how many per day, over how many days, and of which modality."""

    n_requests: int = bounded(20_000, ge=1)  # per day
    n_days: int = bounded(2, ge=1)
    modality_mix: ModalityMix = ModalityMix()
    preference_share: float = bounded(0.85, ge=0.0, le=1.0)  # intents drawn from the user's tastes


@dataclass(frozen=True)
class ClickConfig:
    """Position-based click model: examination(k) = 1 / (k + 1) ** position_decay."""

    position_decay: float = bounded(0.8, ge=0.0, le=5.0)


@dataclass(frozen=True)
class RetrievalConfig:
    """FAISS retrieval: index type, per-channel quotas and the merged list size."""

    index: Literal["flat", "ivf", "hnsw"] = "flat"
    top_n: int = bounded(200, ge=1)
    query_quota: int = bounded(120, ge=0)    # query embedding -> ANN over ads
    i2i_quota: int = bounded(60, ge=0)       # user's recent items -> ANN over ads
    lexical_quota: int = bounded(60, ge=0)   # title-token overlap, no embeddings
    i2i_recent: int = bounded(5, ge=1)       # recent behaviour items used as i2i seeds
    ivf_lists: int = bounded(256, ge=1)
    ivf_probe: int = bounded(16, ge=1)
    hnsw_m: int = bounded(32, ge=4)
    hnsw_ef_search: int = bounded(128, ge=1)


@dataclass(frozen=True)
class RelevanceConfig:
    """Query-ad relevance model trained on noisy annotator labels; filters candidates."""

    threshold: float = bounded(0.35, ge=0.0, le=1.0)  # min P(relevant); above the label-noise floor
    max_candidates: int = bounded(64, ge=1)  # best-scoring candidates passed on to the ranker
    label_noise: float = bounded(0.2, ge=0.0, le=1.0)  # P(annotator grade is off by one)
    pairs_per_request: int = bounded(16, ge=1)
    labelled_requests: int = bounded(4000, ge=10)
    epochs: int = bounded(4, ge=1)
    hidden: int = bounded(64, ge=4)


@dataclass(frozen=True)
class RankerConfig:
    """TorchRec CTR ranker trained on impression logs."""

    embedding_dim: int = bounded(16, ge=2)
    seq_len: int = bounded(50, ge=1)          # behaviour items the ranker reads
    use_embeddings: bool = True               # MOON features from the arm's item embeddings
    epochs: int = bounded(1, ge=1)            # ID-embedding CTR models overfit after one epoch
    batch_size: int = bounded(128, ge=8)
    learning_rate: float = bounded(3e-3, gt=0.0)
    weight_decay: float = bounded(0.0, ge=0.0)
    dropout: float = bounded(0.3, ge=0.0, lt=1.0)
    hidden: int = bounded(128, ge=4)
    histogram_bins: int = bounded(8, ge=2)


@dataclass(frozen=True)
class AuctionConfig:
    """Multi-slot GSP: rank by bid x pCTR^alpha, per-click reserve, optional budgets."""

    n_slots: int = bounded(4, ge=1, le=20)
    alpha: float = bounded(1.0, ge=0.0, le=5.0)
    reserve: float = bounded(0.05, ge=0.0)


@dataclass(frozen=True)
class ArmConfig:
    """One arm: its embedding provider and optional overrides of stage settings."""

    encoder: str = "latent-noise"
    encoder_args: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # e.g. {auction = {alpha = 1.5}}
    click_stream: int = bounded(0, ge=0)  # > 0: click draws independent of stream 0 (A/A checks of the statistics)

    def validate(self, path: str) -> None:
        for section, table in self.overrides.items():
            if section not in STAGE_SECTIONS:
                raise ConfigError(f"{path}.overrides.{section}: not a stage section (one of {sorted(STAGE_SECTIONS)})")
            defaults = dataclasses.asdict(STAGE_SECTIONS[section]())
            parse(STAGE_SECTIONS[section], {**defaults, **table}, f"{path}.overrides.{section}")


@dataclass(frozen=True)
class EngineConfig:
    """Batching and logging of the serving loop."""

    batch_size: int = bounded(2048, ge=1)
    log_candidates: bool = False
    retrain_daily: bool = False  # multi-day runs: retrain each arm's ranker every day on that arm's own logs


@dataclass(frozen=True)
class BootstrapConfig:
    """The day-0 production system whose logs train every arm (neutral to both arms)."""

    encoder: str = "latent-noise"
    encoder_args: dict[str, Any] = field(default_factory=lambda: {"noise": 1.0})
    exploration: float = bounded(0.5, ge=0.0)  # log-normal noise on its pCTR prior, for diverse logs


@dataclass(frozen=True)
class EncoderTrainConfig:
    """MOON-style encoder: model sizes, options, and the three training stages."""

    vocab_size: int = bounded(2000, ge=50)
    max_title_tokens: int = bounded(24, ge=4)
    max_query_tokens: int = bounded(12, ge=2)
    vision: Literal["resnet", "vit"] = "resnet"  # image tower: resnet (stages of basic blocks) or vit
    patch_size: int = bounded(8, ge=2)         # vit only
    vision_hidden: int = bounded(32, ge=8)     # resnet: first stage width (doubling per stage); vit: width
    vision_layers: int = bounded(3, ge=1)      # resnet stages or vit layers
    hidden: int = bounded(64, ge=8)            # language model width
    layers: int = bounded(2, ge=1)
    heads: int = bounded(4, ge=1)
    embedding_dim: int = bounded(128, ge=4)    # full Matryoshka size
    matryoshka_dims: tuple[int, ...] = (32, 64, 128)
    moe_experts: int = bounded(0, ge=0)        # > 0: modality-routed mixture-of-experts feed-forward
    fusion: bool = True                        # multi-head modality fusion pooling
    residual: bool = True                      # fine-grained residual: first layer + every vision stage (GeM) as its own embedding
    batch_size: int = bounded(64, ge=4)
    learning_rate: float = bounded(2e-3, gt=0.0)  # peak, after a linear warm-up over 10 % of a stage's steps
    pretrain_steps: int = bounded(150, ge=0)      # training tokens = steps x batch x sequence length
    posttrain_steps: int = bounded(150, ge=0)
    n_negatives: int = bounded(4, ge=0)        # per query, post-training: hard + spatial-temporal
    hard_negative_share: float = bounded(0.5, ge=0.0, le=1.0)
    sample_filtering: bool = False             # down-weight triplets whose margin says "noise"
    intra_batch: int = bounded(32, ge=0)       # post-training: items per step that keep the intra-product alignment (MOON2.0)
    seed: int = bounded(0, ge=0)

    def pretraining(self) -> "EncoderTrainConfig":
        """These settings with every post-training knob neutral: all that a pretraining run reads,
        so variants that differ only in post-training can share one."""
        return dataclasses.replace(self, posttrain_steps=0, n_negatives=0, hard_negative_share=0.0,
                                   sample_filtering=False, intra_batch=0)

    def validate(self, path: str) -> None:
        if self.embedding_dim not in self.matryoshka_dims or any(d > self.embedding_dim for d in self.matryoshka_dims):
            raise ConfigError(f"{path}.matryoshka_dims: must be sizes <= embedding_dim that include it, got {list(self.matryoshka_dims)}")
        if self.hidden % self.heads or self.vision_hidden % self.heads:
            raise ConfigError(f"{path}: hidden and vision_hidden must be multiples of heads")


def _default_variants() -> dict[str, ArmConfig]:
    """Latent-noise profiles around the default control (noise 1.0) that differ per channel."""
    profiles = {"all_0.3": {"noise": 0.3}, "all_0.6": {"noise": 0.6}, "all_1.5": {"noise": 1.5},
                "visual_0.4": {"visual_noise": 0.4}, "text_0.4": {"text_noise": 0.4},
                "taste_0.4": {"taste_noise": 0.4}, "visual_text_0.6": {"visual_noise": 0.6, "text_noise": 0.6}}
    return {name: ArmConfig("latent-noise", {"noise": 1.0} | args) for name, args in profiles.items()}


@dataclass(frozen=True)
class SweepConfig:
    """Exchange-rate sweep: embedding variants, each served as an arm against the control."""

    variants: dict[str, ArmConfig] = field(default_factory=_default_variants)
    moon_posttrain_steps: tuple[int, ...] = (50, 150)  # plus MOON encoders trained here (encoder_train, these post-training lengths)
    downstream: tuple[str, ...] = DOWNSTREAM
    primary: str = "ctr"               # the downstream metric the ranking of intermediate metrics is for
    workers: int = bounded(1, ge=1)    # variants served in parallel processes
    n_bootstrap: int = bounded(500, ge=50)

    def validate(self, path: str) -> None:
        if len(self.variants) + len(self.moon_posttrain_steps) < 3:
            raise ConfigError(f"{path}: a sweep needs at least 3 variants to fit a slope and leave one out")
        if any(s < 0 for s in self.moon_posttrain_steps):
            raise ConfigError(f"{path}.moon_posttrain_steps: must be >= 0, got {list(self.moon_posttrain_steps)}")
        if "control" in self.variants:
            raise ConfigError(f"{path}.variants: 'control' is the config's control arm, not a variant")
        bad = [d for d in (*self.downstream, self.primary) if d not in DOWNSTREAM]
        if bad:
            raise ConfigError(f"{path}: unknown downstream metric(s) {bad} (one of {list(DOWNSTREAM)})")
        if self.primary not in self.downstream:
            raise ConfigError(f"{path}.primary: must be one of downstream {list(self.downstream)}")


SCALING_AXES = ("train_tokens", "negatives", "seq_len")


@dataclass(frozen=True)
class ScalingConfig:
    """A scaling study: one axis, several values, each a variant against the control.

    train_tokens: post-training steps of the treatment MOON encoder (tokens = steps x batch x sequence);
    negatives: its post-training negatives per query; seq_len: behaviour items the treatment's ranker reads.
    """

    axis: Literal["train_tokens", "negatives", "seq_len"] = "seq_len"
    values: tuple[int, ...] = (2, 5, 10, 20, 50)

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

    seed: int = bounded(2026, ge=0)
    name: str = "demo"
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
    arms: dict[str, ArmConfig] = field(default_factory=_default_arms)
    sweep: SweepConfig = SweepConfig()
    scaling: ScalingConfig = ScalingConfig()

    def validate(self, path: str) -> None:
        if "control" not in self.arms:
            raise ConfigError("arms: an arm named 'control' is required (lifts are measured against it)")
        if self.traffic.n_days < 2:
            raise ConfigError("traffic.n_days: must be >= 2 (day 0 trains the arms, later days are served)")

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
