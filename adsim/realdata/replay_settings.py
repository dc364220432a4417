"""What `adsim replay` is asked to do, apart from the data: the formats it reads, its settings and
the embedding sets it compares. Kept apart from the replay itself so the command line can offer
them without importing the ranker (torch, TorchRec, Lightning)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from adsim.core.config import RankerConfig
from adsim.core.errors import ConfigError, DataError

FORMATS = ("taobao", "amazon")
BASELINE = "base"              # the ranker without content embeddings
HEURISTIC = "category-share"   # the share of the user's earlier behaviour in the ad's category
LOG_FEATURES = ("events", "affinity", "profile", "price")  # events, affinity: from the behaviour log


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
    log_features: tuple[str, ...] = LOG_FEATURES  # what the ranker reads besides ids and clicks, where the log has it
    event_len: int = 50               # behaviour events per row the ranker attends over
    ablation: bool = False            # also train the base ranker without each log feature

    def __post_init__(self):
        unknown = [f for f in self.log_features if f not in LOG_FEATURES]
        if unknown:
            raise ConfigError(f"replay log feature {unknown[0]!r} is not one of {', '.join(LOG_FEATURES)}")
        for name, low in (("seeds", 1), ("n_boot", 20), ("negatives", 1), ("event_len", 1)):
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
        if name.startswith(f"{BASELINE}-") or name == HEURISTIC:
            raise DataError(f"--embeddings {spec!r}: {name!r} is the name of a ranker replay trains itself")
        out[name] = Path(path)
    return out


@dataclass(frozen=True)
class ReplayCoverageSettings:
    """Sizes of the study; the replay settings (ranker, bootstrap, level) are `replay`'s."""

    draws: int = 100
    users: int = 1000       # the fixture's users: the held-out population
    per_draw: int = 150     # held-out users in each draw
    per_user_day: int = 6   # impressions per user and day
    seed_pool: int = 6      # rankers trained per arm
    replay: ReplaySettings = ReplaySettings(seeds=2, n_boot=200)

    def __post_init__(self):
        if not 0 < self.per_draw < self.users:
            raise ConfigError(f"per_draw must be between 1 and users - 1 ({self.users - 1}), got {self.per_draw}")
        if self.replay.seeds > self.seed_pool:
            raise ConfigError(f"seeds per draw ({self.replay.seeds}) cannot exceed the pool ({self.seed_pool})")
        if self.draws < 1:
            raise ConfigError(f"draws must be at least 1, got {self.draws}")
