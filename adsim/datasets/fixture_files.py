"""What every generated log shares: its spec (sizes and click model), the latent vectors behind an
embeddings signal, and the writers that reproduce the public dumps' files (`\\N` for missing,
gzip where asked, atomic)."""

from __future__ import annotations

import gzip
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import polars as pl

from adsim.core.files import atomic_path, write_parquet
from adsim.core.rng import generator

SIGNALS = ("embeddings", "behaviour", "none")
LATENT = 8


@dataclass(frozen=True)
class FixtureSpec:
    """Sizes and the click model of a generated log."""

    n_users: int = 400
    n_items: int = 600
    n_days: int = 8
    per_user_day: int = 12
    signal: str = "embeddings"
    strength: float = 2.5
    base_logit: float = -2.2
    embedding_noise: float = 0.3
    behaviour_strength: float = 0.6  # taobao, signal "behaviour": click log-odds per log preference ratio
    events_per_user: int = 60        # taobao: behaviour events per user (lognormal spread)
    seed: int = 0
    gzip: bool = False
    write_truth: bool = False        # taobao: also click_probability.parquet, each impression's P(click)


# The Taobao dump's shape: 1.14 M users, 846,811 ads, 26 M impressions over 8 days; here 1.1 M users
# x 24 impressions (26.4 M, and 2 % repeated rows) and about 110 M behaviour events (88 a user, lognormal spread).
FULL_SIZE = FixtureSpec(n_users=1_100_000, n_items=846_811, n_days=8, per_user_day=3, events_per_user=88)
SIZES = {"small": FixtureSpec(), "full": FULL_SIZE}


def latents(spec: FixtureSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = generator(spec.seed, "fixture-latents")
    z = rng.normal(size=(spec.n_items, LATENT)) / np.sqrt(LATENT)
    u = rng.normal(size=(spec.n_users, LATENT))
    appeal = rng.normal(0, 0.3, spec.n_items)
    return z, u, appeal


def write_bytes(data: bytes, path: Path, gz: bool) -> Path:
    """`data` at `path` (`path`.gz, compressed, with `gz`), written atomically."""
    path = path.with_name(path.name + (".gz" if gz else ""))
    with atomic_path(path) as tmp:
        tmp.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def write_csv(frame: pl.DataFrame, path: Path, gz: bool = False, header: list[str] | None = None) -> Path:
    """A CSV as the public dumps write it (missing values as `\\N`), with `header` replacing the
    column names where given (to reproduce a dump's odd header)."""
    text = frame.write_csv(null_value="\\N")
    if header:
        text = ",".join(header) + text[text.index("\n"):]
    return write_bytes(text.encode(), path, gz)


@contextmanager
def csv_stream(path: Path, gz: bool = False) -> Iterator[Callable[[pl.DataFrame], None]]:
    """A CSV written block by block (`write(frame)`; the header with the first block), as
    `write_csv` writes one frame: `\\N` for missing, gzip where asked, atomic (no file unless every
    block was written), memory one block."""
    path = path.with_name(path.name + (".gz" if gz else ""))
    with atomic_path(path) as tmp, (gzip.GzipFile(tmp, "wb", mtime=0) if gz else open(tmp, "wb")) as f:
        first = [True]

        def write(frame: pl.DataFrame) -> None:
            frame.write_csv(f, include_header=first[0], null_value="\\N")
            first[0] = False
        yield write


def write_item_embeddings(path: Path, ids: list, z: np.ndarray, noise: float, seed: int) -> None:
    """The precomputed provider's Parquet format keyed by the dataset's item ids: item_id, embedding."""
    e = z + generator(seed, "fixture-embedding-noise").normal(0, noise / np.sqrt(z.shape[1]), z.shape)
    write_parquet(pl.DataFrame({"item_id": ids, "embedding": e.astype(np.float32)}), path)


