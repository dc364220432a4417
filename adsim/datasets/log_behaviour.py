"""The user side of a prepared log: behaviour events and profiles.

Behaviour events (Taobao's `behavior_log`: page views, carts, favourites and buys of categories and
brands) are encoded with the log's vocabularies and written in the same parts as the impressions
(part k holds the events of part k's users, sorted by user and time), so replay reads one part's
impressions and that part's events together and memory follows the part size. The log is read once,
split by part on the way (adsim.datasets.log_parts), and each part encoded and sorted on its own.

Profiles (Taobao's `user_profile`) become one small code table: a row per user code, a column per
field, 0 where the user has no profile or the cell is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from adsim.core.files import write_parquet
from adsim.datasets.log_parts import part_vocabs, staged_part
from adsim.datasets.schema import collect_checked

EVENT_COLUMNS = ("user", "time", "kind", "category", "brand")


@dataclass(frozen=True)
class BehaviourPart:
    """One part's behaviour events, sorted by (user, time): int32 codes, int64 times."""

    user: np.ndarray
    time: np.ndarray
    kind: np.ndarray      # int8 code into the log's kinds, from 1
    category: np.ndarray  # int32 codes of the log's category vocabulary (0 unknown)
    brand: np.ndarray


def _codes(lf: pl.LazyFrame, column: str, vocab: pl.DataFrame, how: str = "left") -> pl.LazyFrame:
    codes = vocab.lazy().rename({"id": column, "code": f"{column}_code"})
    return lf.join(codes, on=column, how=how).drop(column).rename({f"{column}_code": column}).with_columns(
        pl.col(column).fill_null(0))


def write_behaviour(staging: Path, vocab: dict[str, pl.DataFrame], kinds: tuple[str, ...], starts: list[int],
                    folder: Path) -> int:
    """Encode the staged events of each part (EVENT_COLUMNS, string ids: adsim.datasets.log_parts) and
    write `folder/part-K.parquet`; events of users the impressions lack are dropped, and repeated
    rows (the dump repeats some). Returns the events kept."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("part-*.parquet"):
        old.unlink()
    total = 0
    for k, user_vocab in enumerate(part_vocabs(vocab["user"], starts)):
        lf = _codes(staged_part(staging, k, {c: pl.String for c in EVENT_COLUMNS} | {"time": pl.Int64}).lazy(), "user",
                    user_vocab, how="inner")
        for name in ("category", "brand"):
            lf = _codes(lf, name, vocab[name])
        lf = lf.with_columns(pl.col("kind").replace_strict(list(kinds), list(range(1, len(kinds) + 1)), default=0,
                                                           return_dtype=pl.Int8))
        frame = lf.select(pl.col("user").cast(pl.Int32), pl.col("time").cast(pl.Int64), pl.col("kind").cast(pl.Int8),
                          pl.col("category").cast(pl.Int32), pl.col("brand").cast(pl.Int32)).unique().sort(list(EVENT_COLUMNS)).collect()
        total += frame.height
        write_parquet(frame, folder / f"part-{k:05d}.parquet")
    return total


def read_behaviour(path: Path) -> BehaviourPart:
    frame = pl.read_parquet(path)
    return BehaviourPart(**{c: frame[c].to_numpy() for c in EVENT_COLUMNS})


def write_profiles(profiles: pl.LazyFrame, user_vocab: pl.DataFrame, path: Path, what: str) -> dict[str, int]:
    """Encode `profiles` (user and string fields) to `path`: user code and each field's code (from 1;
    0 missing). Returns each field's table size (codes + 1)."""
    frame = collect_checked(_codes(profiles, "user", user_vocab, how="inner").unique("user", keep="first").sort("user"), what)
    fields = [c for c in frame.columns if c != "user"]
    sizes, out = {}, {"user": frame["user"].cast(pl.Int32)}
    for f in fields:
        values = frame[f].drop_nulls().unique().sort()
        lookup = dict(zip(values.to_list(), range(1, len(values) + 1)))
        out[f] = frame[f].replace_strict(lookup, default=0, return_dtype=pl.Int32)
        sizes[f] = len(values) + 1
    write_parquet(pl.DataFrame(out), path)
    return sizes


def read_profiles(path: Path, n_users: int, fields: list[str]) -> np.ndarray:
    """(n_users, fields) int32 codes, 0 for users without a profile."""
    frame = pl.read_parquet(path)
    table = np.zeros((n_users, len(fields)), np.int32)
    for j, f in enumerate(fields):
        table[frame["user"].to_numpy(), j] = frame[f].to_numpy()
    return table
