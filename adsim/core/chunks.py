"""Work on large tables in chunks: a random stream per chunk and the cores shared over chunks.

A chunk's stream depends only on the seed, the purpose and the chunk's number, so a table drawn in
chunks is the same whatever the machine; chunk 0 draws from the purpose's plain stream, so a
table that fits in one chunk is the one adsim drew before it chunked anything.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TypeVar

import numpy as np

from adsim.core.rng import generator

T = TypeVar("T")


def chunk_generator(seed: int, chunk: int, *names: str | int) -> np.random.Generator:
    """The random stream of chunk `chunk` of the table drawn for purpose `names`."""
    return generator(seed, *names, *((("chunk", chunk)) if chunk else ()))


def chunk_map(fn: Callable[[int], T], n_chunks: int) -> list[T]:
    """[fn(0), ..., fn(n_chunks - 1)], computed on threads (numpy releases the GIL in its array
    loops, so the cores share the work without copying the inputs), in chunk order."""
    if n_chunks <= 1:
        return [fn(c) for c in range(n_chunks)]
    with ThreadPoolExecutor(max_workers=min(n_chunks, os.cpu_count() or 1)) as pool:
        return list(pool.map(fn, range(n_chunks)))
