"""Will it fit? The memory a world and an experiment will need, from the config alone, checked
against what the machine has before anything is built.

Per-row sizes were measured on the demo world (numpy buffers plus Python strings); the serving and
training terms count the arrays those stages hold at once. The estimate names the setting behind
its largest part, so a size that cannot fit fails in one line that says what to lower.
`tests/core/runtime/test_footprint.py` holds the world estimate to the measured size of a built world.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from adsim.core.errors import ConfigError

GIB = 1 << 30
ITEM_BYTES = 200          # catalogue row: attributes, taste, title
USER_BYTES = 360          # preferences, affinities, taste
HISTORY_ROWS_PER_SEQ = 0.28   # past clicks per user per unit of world.seq_len (measured 0.271)
HISTORY_ROW_BYTES = 150   # session, query text, intent, slate
REQUEST_BYTES = 115       # request, query text, intent
BENCHMARK_REQUESTS = 20_000
FILLED_SLOTS = 0.8        # share of auction slots filled (day-0 impressions per request / n_slots, at most)
HEADROOM = 1.25           # allocator slack and short-lived copies


@dataclass(frozen=True)
class Footprint:
    """Estimated bytes by part, each part named by the settings that drive it."""

    parts: dict[str, int]

    @property
    def total(self) -> int:
        return int(HEADROOM * sum(self.parts.values()))

    @property
    def largest(self) -> str:
        return max(self.parts, key=self.parts.get)

    def __add__(self, other: "Footprint") -> "Footprint":
        merged = dict(self.parts)
        for k, v in other.parts.items():
            merged[k] = merged.get(k, 0) + v
        return Footprint(merged)


def world_footprint(world, traffic) -> Footprint:
    """The world's tables (`world`: WorldConfig, `traffic`: TrafficConfig)."""
    n_requests = traffic.n_days * traffic.n_requests + min(traffic.n_requests, BENCHMARK_REQUESTS)
    history = world.n_users * world.seq_len * HISTORY_ROWS_PER_SEQ * HISTORY_ROW_BYTES
    return Footprint({"world.n_items": world.n_items * ITEM_BYTES,
                      "world.n_users or world.seq_len": int(world.n_users * USER_BYTES + history),
                      "traffic.n_requests": int(n_requests * REQUEST_BYTES)})


def experiment_footprint(cfg) -> Footprint:
    """The world, plus what serving and training hold at once: two arms' item embeddings, indexes
    and neighbour tables and lexical result caches, every served day's per-request outcomes of one arm, day 0's impressions
    with their query embeddings (one per request), and one serving batch's candidates and features."""
    w, traffic, ret, rel, eng = cfg.world, cfg.traffic, cfg.retrieval, cfg.relevance, cfg.engine
    dim = 64  # the providers' default; larger embeddings scale the item part
    per_seed = -(-ret.i2i_quota // ret.i2i_recent)
    items = 2 * w.n_items * (2 * dim * 4 + per_seed * 8 + 120)
    slots = cfg.auction.n_slots
    day_rows = traffic.n_requests
    outcomes = day_rows * max(traffic.n_days - 1, 1) * (slots * 17 + 64)
    impressions = day_rows * (dim * 4 + slots * FILLED_SLOTS * 56)  # a query embedding per request, ids per slot
    batch = eng.batch_size * (ret.top_n * ((dim + 6) * 4 * 3 + 16) + rel.max_candidates * (dim * 4 * 3)
                              + cfg.ranker.seq_len * dim * 4)
    sequences = 3 * w.n_users * w.seq_len * 4
    lexical = 2 * min(ret.lexical_cache, traffic.n_requests) * (ret.lexical_quota * 8 + 32)  # two arms' result caches
    return world_footprint(w, traffic) + Footprint({
        "world.n_items": items, "traffic.n_requests": int(outcomes + impressions), "retrieval.lexical_cache": lexical,
        "engine.batch_size": batch, "world.n_users or world.seq_len": sequences})


def available_bytes() -> int:
    """Memory this process may still take: MemAvailable where Linux reports it, else physical memory."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_fits(footprint: Footprint, what: str, available: int | None = None) -> None:
    """One ConfigError naming the setting to lower when `footprint` exceeds the memory available."""
    available = available_bytes() if available is None else available
    if footprint.total > available:
        raise ConfigError(f"{what} needs about {footprint.total / GIB:.1f} GiB but {available / GIB:.1f} GiB is "
                          f"available; lower {footprint.largest} (its part: {footprint.parts[footprint.largest] / GIB:.1f} GiB)")
