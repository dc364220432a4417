"""What `adsim replay` is asked to do, apart from the data: the formats it reads, its settings and
the embedding sets it compares. Kept apart from the replay itself so the command line can offer
them without importing the ranker (torch, TorchRec, Lightning)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from adsim.core.config import RankerConfig
from adsim.core.errors import ConfigError, DataError

FORMATS = ("taobao", "amazon")
BASELINE = "ids"


@dataclass(frozen=True)
class ReplaySettings:
    """What a replay run needs besides the data: the ranker, seeds and the bootstrap."""

    ranker: RankerConfig = RankerConfig()
    seed: int = 0
    seeds: int = 2
    n_boot: int = 300
    level: float = 0.95
    category: str | None = None       # amazon: which category's files (default: the one present)
    split: str = "leave-last-out"     # amazon: leave-last-out or timestamp
    negatives: int = 4                # amazon: sampled unclicked items per review

    def __post_init__(self):
        for name, low in (("seeds", 1), ("n_boot", 20), ("negatives", 1)):
            if getattr(self, name) < low:
                raise ConfigError(f"replay {name} must be at least {low}, got {getattr(self, name)}")
        if not 0 < self.level < 1:
            raise ConfigError(f"replay level must be in (0, 1), got {self.level}")


def parse_embeddings(specs: list[str]) -> dict[str, Path]:
    """`NAME=PATH` or `PATH` (named by the file's stem) -> {name: path}, names distinct."""
    out: dict[str, Path] = {}
    for spec in specs:
        name, _, path = spec.rpartition("=") if "=" in spec else (Path(spec).stem, "", spec)
        if not name or name == BASELINE or name in out:
            raise DataError(f"--embeddings {spec!r}: each set needs a distinct name other than {BASELINE!r} (NAME=PATH)")
        out[name] = Path(path)
    return out
