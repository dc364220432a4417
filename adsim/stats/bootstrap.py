"""Poisson(1) bootstrap weights over units (users, held-out queries), never held whole.

Every statistic adsim reads from a bootstrap is a weighted sum over units, so the (n_boot,
n_units) table is drawn a chunk of units at a time and the sums accumulate: at a million users
and 1,000 resamples the table would be 4 GB of float32 (8 GB as numpy's int64 draws), a chunk is
a few hundred MB. Under torchrun each rank draws every world-th chunk and the sums are
all-reduced. Chunk j's draws come from the stream (*stream, j), chunk 0's from the stream itself,
so a table of one chunk (every smoke and demo world) is the one draw adsim has always made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from adsim.core.runtime import dist
from adsim.core.rng import generator

UNIT_CHUNK = 32768  # units whose weights are drawn at a time
ROW_BLOCK = 1 << 22  # Poisson draws made at a time within a chunk (numpy draws int64)


@dataclass(frozen=True)
class Bootstrap:
    """The resampling weights of `n_boot` Poisson(1) resamples of `n_units` units, by seed and stream."""

    seed: int
    n_units: int
    n_boot: int
    stream: tuple[str | int, ...] = ("bootstrap",)

    @property
    def n_chunks(self) -> int:
        return max(1, -(-self.n_units // UNIT_CHUNK))

    def chunk(self, j: int) -> np.ndarray:
        """(n_boot, units of chunk j) float32 weights, a few resamples at a time (the same draws as one call)."""
        start, stop = j * UNIT_CHUNK, min(self.n_units, (j + 1) * UNIT_CHUNK)
        gen = generator(self.seed, *self.stream, *((j,) if j else ()))
        out = np.empty((self.n_boot, stop - start), dtype=np.float32)
        rows = max(1, ROW_BLOCK // max(stop - start, 1))
        for s in range(0, self.n_boot, rows):
            out[s:s + rows] = gen.poisson(1.0, (min(rows, self.n_boot - s), stop - start))
        return out

    def chunks(self, me: dist.Ranks | None = None) -> Iterator[tuple[slice, np.ndarray]]:
        """(units, weights) of each chunk this rank draws: every one in a single process."""
        me = me or dist.ranks()
        for j in range(me.rank, self.n_chunks, me.world):
            yield slice(j * UNIT_CHUNK, (j + 1) * UNIT_CHUNK), self.chunk(j)

    def dense(self, dtype: type = np.float32) -> np.ndarray:
        """The whole (n_boot, n_units) table, for callers whose units are few, or who hold it as
        `np.uint8` counts (a Poisson(1) draw is a small integer: a quarter of float32's memory)."""
        return np.concatenate([self.chunk(j).astype(dtype, copy=False) for j in range(self.n_chunks)], axis=1)

    def totals(self, columns: Sequence[np.ndarray], me: dist.Ranks | None = None) -> np.ndarray:
        """(n_boot, len(columns)) float64: each (n_units,) column's weighted sum under every
        resample, in one pass over the draws, summed over the ranks of `me`."""
        me = me or dist.ranks()
        out = np.zeros((self.n_boot, len(columns)))
        for units, w in self.chunks(me):
            block = np.stack([np.asarray(c, dtype=np.float64)[units] for c in columns], axis=1)
            out += w.astype(np.float64) @ block
        return dist.all_sum(out, me)


def bootstrap_weights(seed: int, n_units: int, n_boot: int, stream: str = "bootstrap",
                      dtype: type = np.float32) -> np.ndarray:
    """(n_boot, n_units) Poisson(1) weights, whole: for units that are few (held-out queries, a
    smoke world's users), or held as uint8 counts; a million users' table in float is
    `Bootstrap.totals`'s to sum, chunk by chunk."""
    return Bootstrap(seed, n_units, n_boot, (stream,)).dense(dtype)
