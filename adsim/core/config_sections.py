"""The sections of an experiment config that describe one part each: the world, its traffic and
clicks, the ad system's stages, the serving engine, the day-0 bootstrap and encoder training.
Typed, frozen dataclasses; `bounded` fields carry the ranges the validator checks."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from adsim.core.errors import ConfigError
from adsim.core.validation import bounded


@dataclass(frozen=True)
class WorldConfig:
    """Sizes and knobs of the synthetic catalogue and user base."""

    n_items: int = bounded(20_000, ge=10)  # items (= ads)
    n_users: int = bounded(5_000, ge=2)  # users
    n_advertisers: int = bounded(400, ge=1)  # advertisers
    image_size: int = bounded(32, ge=16, le=128)  # pixels per side of rendered images
    n_brands: int = bounded(240, ge=1)  # brands
    max_views: int = bounded(4, ge=1, le=4)  # images per item
    seq_len: int = bounded(64, ge=1)  # longest behaviour sequence kept per user
    taste_dim: int = bounded(16, ge=2)  # taste vector size
    history_days: int = bounded(30, ge=1)  # days of behaviour history before day 0
    # The past system that produced the behaviour logs: how often its slate held the shopper's
    # target, and how noisy its ranking was (sd of the noise on its attractiveness estimate).
    history_target_shown: float = bounded(0.3, ge=0.0, le=1.0)
    history_rank_noise: float = bounded(2.0, ge=0.0)  # sd of the noise on the past system's ranking score
    new_item_share: float = bounded(0.12, ge=0.0, le=1.0)  # share of items listed in the last week or during the run
    budgets: bool = False  # give advertisers finite daily budgets
    # Tails a real log identifies (adsim calibrate): users' activity is lognormal(0, activity_sigma)
    # (requests per user); a category's base price is lognormal around price_median with price_sigma.
    activity_sigma: float = bounded(1.0, ge=0.0, le=4.0)
    price_median: float = bounded(30.0, gt=0.0)  # a category's base price: lognormal around this median
    price_sigma: float = bounded(0.8, ge=0.0, le=4.0)  # ... with this log-scale spread


@dataclass(frozen=True)
class ModalityMix:
    """Share of requests per query modality; must sum to 1."""

    text: float = bounded(0.5, ge=0.0, le=1.0)  # share of text queries
    image: float = bounded(0.3, ge=0.0, le=1.0)  # share of photo queries
    multimodal: float = bounded(0.2, ge=0.0, le=1.0)  # share of photo + text queries

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
    # days of requests: day 0 bootstraps, days 1.. are served; one more, never served, holds the
    # held-out queries
    n_days: int = bounded(2, ge=1)
    modality_mix: ModalityMix = ModalityMix()  # query modality shares (sum to 1)
    preference_share: float = bounded(0.85, ge=0.0, le=1.0)  # intents drawn from the user's tastes


@dataclass(frozen=True)
class ClickConfig:
    """Position-based click model: examination(k) = 1 / (k + 1) ** position_decay; `ctr_shift` is
    added to every attractiveness logit (the world's click-through level; `adsim calibrate` fits it)."""

    position_decay: float = bounded(0.8, ge=0.0, le=5.0)  # examination(k) = 1 / (k + 1) ** position_decay
    ctr_shift: float = bounded(0.0, ge=-6.0, le=6.0)  # added to every attractiveness logit: the world's click-through level


@dataclass(frozen=True)
class RetrievalConfig:
    """FAISS retrieval: index type, per-channel quotas and the merged list size."""

    index: Literal["flat", "ivf", "hnsw"] = "flat"  # FAISS index: flat, ivf or hnsw
    top_n: int = bounded(200, ge=1)  # merged candidates per request
    query_quota: int = bounded(120, ge=0)    # query embedding -> ANN over ads
    i2i_quota: int = bounded(60, ge=0)       # user's recent items -> ANN over ads
    lexical_quota: int = bounded(60, ge=0)   # title-token overlap, no embeddings
    lexical_cache: int = bounded(262144, ge=0)  # distinct query token sets whose lexical results a day's index keeps
    i2i_recent: int = bounded(5, ge=1)       # recent behaviour items used as i2i seeds
    ivf_lists: int = bounded(256, ge=1)  # IVF lists (k-means centroids)
    ivf_probe: int = bounded(16, ge=1)  # IVF lists probed per query
    ivf_train_per_list: int = bounded(256, ge=39)  # k-means sample per list (FAISS's default; fewer trains faster)
    # vectors in the lists: float32, or 8 bits a dimension (a quarter of the bytes scanned)
    ivf_codec: Literal["flat", "sq8"] = "flat"
    hnsw_m: int = bounded(32, ge=4)  # HNSW links per node
    hnsw_ef_search: int = bounded(128, ge=1)  # HNSW search breadth


@dataclass(frozen=True)
class RelevanceConfig:
    """Query-ad relevance model trained on noisy annotator labels; filters candidates."""

    threshold: float = bounded(0.35, ge=0.0, le=1.0)  # min P(relevant); above the label-noise floor
    max_candidates: int = bounded(64, ge=1)  # best-scoring candidates passed on to the ranker
    label_noise: float = bounded(0.2, ge=0.0, le=1.0)  # P(annotator grade is off by one)
    pairs_per_request: int = bounded(16, ge=1)  # labelled (query, ad) pairs per labelled request
    labelled_requests: int = bounded(4000, ge=10)  # requests whose candidates annotators grade
    epochs: int = bounded(4, ge=1)  # training epochs (Adam)
    hidden: int = bounded(64, ge=4)  # hidden units
    learning_rate: float = bounded(3e-3, gt=0.0)  # Adam
    batch_size: int = bounded(512, ge=1)  # training batch
    seed: int = bounded(0, ge=0)  # added to the experiment's seed for the model's init and shuffling


@dataclass(frozen=True)
class RankerConfig:
    """TorchRec CTR ranker trained on impression logs."""

    embedding_dim: int = bounded(16, ge=2)  # ID embedding size (TorchRec tables)
    seq_len: int = bounded(50, ge=1)          # behaviour items the ranker reads
    use_embeddings: bool = True               # MOON features from the arm's item embeddings
    epochs: int = bounded(1, ge=1)            # ID-embedding CTR models overfit after one epoch
    batch_size: int = bounded(128, ge=8)  # training batch
    learning_rate: float = bounded(3e-3, gt=0.0)  # Adam's learning rate
    weight_decay: float = bounded(0.0, ge=0.0)  # L2 weight decay
    dropout: float = bounded(0.3, ge=0.0, lt=1.0)  # dropout in the MLP
    hidden: int = bounded(128, ge=4)  # MLP hidden units
    histogram_bins: int = bounded(8, ge=2)  # bins of the sequence's similarity histogram
    seed: int = bounded(0, ge=0)              # added to the experiment's seed for the ranker's init and shuffling
    shard_tables: bool = False                # under torchrun, when the ranks serve an arm together: train with DMP
    max_train_rows: int = bounded(0, ge=0)    # 0: every logged training impression; else a seeded sample of whole requests


@dataclass(frozen=True)
class AuctionConfig:
    """Multi-slot GSP: rank by bid x pCTR^alpha, per-click reserve, optional budgets."""

    n_slots: int = bounded(4, ge=1, le=20)  # ad slots per page
    alpha: float = bounded(1.0, ge=0.0, le=5.0)  # rank score = bid x pCTR ** alpha (GSP)
    reserve: float = bounded(0.05, ge=0.0)  # reserve price per click


@dataclass(frozen=True)
class EngineConfig:
    """Batching and logging of the serving loop."""

    batch_size: int = bounded(2048, ge=1)  # requests served per batch
    log_candidates: bool = False  # also write the per-candidate log
    retrain_daily: bool = False  # multi-day runs: retrain each arm's ranker every day on that arm's own logs


@dataclass(frozen=True)
class BootstrapConfig:
    """The day-0 production system whose logs train every arm (neutral to both arms)."""

    encoder: str = "latent-noise"  # the day-0 system's embedding provider
    encoder_args: dict[str, Any] = field(default_factory=lambda: {"noise": 1.0})  # its arguments
    exploration: float = bounded(0.5, ge=0.0)  # log-normal noise on its pCTR prior, for diverse logs


@dataclass(frozen=True)
class EncoderTrainConfig:
    """MOON-style encoder: model sizes, options, and the three training stages."""

    vocab_size: int = bounded(2000, ge=50)  # tokenizer vocabulary
    max_title_tokens: int = bounded(24, ge=4)  # title tokens kept
    max_query_tokens: int = bounded(12, ge=2)  # query tokens kept
    vision: Literal["resnet", "vit"] = "resnet"  # image tower: resnet (stages of basic blocks) or vit
    patch_size: int = bounded(8, ge=2)         # vit only
    vision_hidden: int = bounded(32, ge=8)     # resnet: first stage width (doubling per stage); vit: width
    vision_layers: int = bounded(3, ge=1)      # resnet stages or vit layers
    hidden: int = bounded(64, ge=8)            # language model width
    layers: int = bounded(2, ge=1)  # language-model layers
    heads: int = bounded(4, ge=1)  # attention heads
    embedding_dim: int = bounded(128, ge=4)    # full Matryoshka size
    matryoshka_dims: tuple[int, ...] = (32, 64, 128)  # nested embedding sizes trained (Matryoshka)
    moe_experts: int = bounded(0, ge=0)        # > 0: modality-routed mixture-of-experts feed-forward
    fusion: bool = True                        # multi-head modality fusion pooling
    # what the fusion heads read: the decoder's final states, or those and its raw inputs (image cells, token embeddings)
    fusion_inputs: Literal["states", "raw"] = "states"
    # fine-grained residual: first layer + every vision stage (GeM) as its own embedding
    residual: bool = True
    # where the residual enters: "output" (first-layer skip; a photo without text by the vision path alone) or
    # "layers" (the decoder's input re-injected before every layer; a photo without text through the decoder too)
    residual_depth: Literal["output", "layers"] = "output"
    batch_size: int = bounded(64, ge=4)  # training batch
    learning_rate: float = bounded(2e-3, gt=0.0)  # peak, after a linear warm-up over 10 % of a stage's steps
    pretrain_steps: int = bounded(150, ge=0)      # training tokens = steps x batch x sequence length
    posttrain_steps: int = bounded(150, ge=0)  # post-training steps
    n_negatives: int = bounded(4, ge=0)        # per query, post-training: hard + spatial-temporal
    hard_negative_share: float = bounded(0.5, ge=0.0, le=1.0)  # share of negatives mined hard
    sample_filtering: bool = False             # down-weight triplets whose margin says "noise"
    intra_batch: int = bounded(32, ge=0)       # post-training: items per step that keep the intra-product alignment (MOON2.0)
    co_augmentation: bool = False              # MOON2.0: enrich titles with attributes their image shows (encoders.training.co_augment)
    co_augmentation_threshold: float = bounded(0.8, ge=0.5, le=1.0)  # the attribute head's confidence to add a word
    visual_expansion: int = bounded(0, ge=0, le=8)  # MOON2.0: extra shopper-style photos of each item per intra-product step
    # "held": visual expansion's control, the extra photos share the photo terms' weight (photos weigh against titles as without)
    visual_expansion_photos: Literal["added", "held"] = "added"
    reasoning: Literal["off", "imitation", "grpo"] = "off"  # MOON3.0: attributes generated before the embedding is read
    reasoning_weight: float = bounded(1.0, ge=0.0)  # weight of the imitation loss (reasoning on)
    grpo_steps: int = bounded(100, ge=0)       # reasoning = "grpo": steps of the third stage
    grpo_group: int = bounded(4, ge=2)         # sampled reasoning sequences per product
    grpo_kl: float = bounded(0.05, ge=0.0)     # weight of the KL divergence from the imitation policy
    # GRPO's compute-matched controls, the same third stage (steps, learning-rate cycle): "zero-advantage" keeps its
    # samples, KL and greedy-token contrastive loss without the policy gradient; "imitation" continues imitation instead
    grpo_control: Literal["none", "zero-advantage", "imitation"] = "none"
    grpo_queries: bool = False                 # GRPO also samples the reasoning of queries with a photo, rewarded by their retrieval
    seed: int = bounded(0, ge=0)  # added to the run's seed for initialisation and sampling

    def pretraining(self) -> "EncoderTrainConfig":
        """These settings with every post-training knob neutral: all that a pretraining run reads,
        so variants that differ only in post-training can share one."""
        return dataclasses.replace(self.before_grpo(), posttrain_steps=0, n_negatives=0, hard_negative_share=0.0,
                                   sample_filtering=False, intra_batch=0)

    def canonical(self) -> "EncoderTrainConfig":
        """These settings with the knobs they do not read neutral (GRPO's, unless reasoning is "grpo"),
        so caches key on what shapes the encoder."""
        return self if self.reasoning == "grpo" else self.before_grpo()

    def before_grpo(self) -> "EncoderTrainConfig":
        """These settings with the GRPO stage's knobs neutral: what its first two stages read (a GRPO
        run continues an imitation run's pretraining and post-training)."""
        reasoning = "imitation" if self.reasoning == "grpo" else self.reasoning
        return dataclasses.replace(self, reasoning=reasoning, grpo_steps=0, grpo_group=4, grpo_kl=0.05, grpo_control="none",
                                   grpo_queries=False)

    def validate(self, path: str) -> None:
        if self.embedding_dim not in self.matryoshka_dims or any(d > self.embedding_dim for d in self.matryoshka_dims):
            raise ConfigError(f"{path}.matryoshka_dims: must be sizes <= embedding_dim that include it, got {list(self.matryoshka_dims)}")
        if self.hidden % self.heads or self.vision_hidden % self.heads:
            raise ConfigError(f"{path}: hidden and vision_hidden must be multiples of heads")
        if self.fusion_inputs == "raw" and not self.fusion:
            raise ConfigError(f"{path}.fusion_inputs: \"raw\" needs fusion = true")
        if self.residual_depth == "layers" and not self.residual:
            raise ConfigError(f"{path}.residual_depth: \"layers\" needs residual = true")
