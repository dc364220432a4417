"""One seed drives everything: named generators for sampling, and counter-based hashes.

`generator(seed, "users")` gives an independent numpy Generator per named purpose, so adding a
new random draw in one place never shifts the numbers drawn anywhere else.

`uniform(seed, stream, *keys)` is a pure function of its arguments (splitmix64 mixing), used
where a draw must not depend on batch order or on which arm asks: common random numbers for
clicks, and view parameters of images rendered on demand.
"""

from __future__ import annotations

import hashlib

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def name_word(name: str | int) -> int:
    """A stable 32-bit word for a stream name (Python's hash() is salted per process)."""
    if isinstance(name, int):
        if name < 0:
            raise ValueError("stream keys must be non-negative")
        return name
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")


def generator(seed: int, *names: str | int) -> np.random.Generator:
    """An independent Generator for the purpose named by `names` under `seed`."""
    words = [seed & 0xFFFFFFFF, seed >> 32] + [name_word(n) for n in names]
    return np.random.default_rng(np.random.SeedSequence(words))


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on a uint64 array (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        x = np.asarray(x, dtype=np.uint64) + _GOLDEN
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
        return x ^ (x >> np.uint64(31))


def hash_keys(seed: int, stream: str, *keys: np.ndarray | int) -> np.ndarray:
    """uint64 hash of (seed, stream, *keys), broadcast over the key arrays."""
    arrays = [np.asarray(k).astype(np.uint64) for k in keys]
    shape = np.broadcast_shapes(*(a.shape for a in arrays)) if arrays else ()
    h = mix64(np.full(shape, (seed & 0xFFFFFFFFFFFFFFFF), dtype=np.uint64) ^ np.uint64(name_word(stream)))
    for a in arrays:
        h = mix64(h ^ a)
    return h


def uniform(seed: int, stream: str, *keys: np.ndarray | int) -> np.ndarray:
    """Uniform float64 in [0, 1), a pure function of (seed, stream, keys)."""
    return (hash_keys(seed, stream, *keys) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def box_muller(u1: np.ndarray, u2: np.ndarray) -> np.ndarray:
    """Standard normals from two arrays of uniforms in [0, 1) (counter-based Gaussian draws)."""
    return np.sqrt(-2 * np.log1p(-u1)) * np.cos(2 * np.pi * u2)


def categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row of a (n, k) probability matrix, vectorised by inverse CDF."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random(probs.shape[0]) * cdf[:, -1]
    return np.minimum((cdf < u[:, None]).sum(axis=1), probs.shape[1] - 1)


def replicate_seed(seed: int, replicate: int) -> int:
    """The seed of replicate `replicate` of a run: `seed` itself for replicate 0 (the base run), an
    unrelated 62-bit seed for the others."""
    if replicate == 0:
        return seed
    return int(hash_keys(seed, "replicate", replicate)) >> 2
