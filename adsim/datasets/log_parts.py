"""Parts of whole users, so a log larger than memory is prepared a part at a time.

Part k of a prepared log holds the users whose codes run from its first user's to the next part's.
User codes follow the sorted string ids, so the same ranges are ranges of the ids themselves: one
streaming pass tags each raw row (an impression or a behaviour event) with its part by a sorted
comparison of its user id with the parts' first ids, and writes it to that part's staging files
(polars's `PartitionBy` sink). Each part is then encoded, de-duplicated and sorted in memory on its
own. Memory follows the part size (and the vocabularies), not the log.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import polars as pl

from adsim.datasets.schema import plan_errors


def part_starts(rows_per_user: np.ndarray, part_rows: int) -> list[int]:
    """Index (in code order) of each part's first user: a part ends with the user whose rows reach
    the next multiple of `part_rows` (whole users, so a heavy user can run a part over)."""
    ends = np.cumsum(rows_per_user.astype(np.int64))
    starts = [0]
    for last in np.searchsorted(ends, np.arange(part_rows, ends[-1], part_rows), side="left"):
        if starts[-1] <= last < len(ends) - 1:
            starts.append(int(last) + 1)
    return starts


def stage_parts(lf: pl.LazyFrame, first_ids: pl.Series, folder: Path, what: str) -> None:
    """Stream `lf` (a string `user` column) into `folder/part=K/`: K the number of `first_ids` (the
    sorted first user ids of parts 1, 2, ...) at or below the row's user."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    # a comparison per part rather than `search_sorted` on a literal, which polars runs off the streaming engine
    part = pl.sum_horizontal([pl.lit(0, pl.Int32)] + [(pl.col("user") >= b).cast(pl.Int32) for b in first_ids.to_list()])
    with plan_errors(what):
        lf.with_columns(part.alias("part")).sink_parquet(pl.PartitionBy(folder, key="part", include_key=False))


def staged_part(folder: Path, k: int, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Part k's staged rows (none where the part had none)."""
    files = sorted((folder / f"part={k}").glob("*.parquet"))
    return pl.read_parquet(files) if files else pl.DataFrame(schema=schema)


def part_vocabs(user_vocab: pl.DataFrame, starts: list[int]) -> list[pl.DataFrame]:
    """Each part's slice of the user vocabulary (id, code), from `part_starts`."""
    ends = starts[1:] + [user_vocab.height]
    return [user_vocab.slice(a, b - a) for a, b in zip(starts, ends)]
