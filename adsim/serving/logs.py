"""Run logs: impressions, requests and (optionally) per-stage candidates, as Parquet.

Layout under a run folder (hive-style partitions, one or more part files each):

    <run>/logs/impressions/arm=<arm>/day=<day>/part-00000.parquet
    <run>/logs/requests/arm=<arm>/day=<day>/part-00000.parquet
    <run>/logs/candidates/arm=<arm>/day=<day>/part-00000.parquet

`arm` and `day` are also columns inside each file, so a file is self-describing. Readers return
polars LazyFrames over all parts, so logs larger than memory can be filtered and aggregated.
The schema is documented in logs/README.md; a test keeps the two in step.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from adsim.core.errors import DataError
from adsim.core.files import write_parquet
from adsim.core.vocab import MODALITIES

MODALITY = pl.Enum(list(MODALITIES))

IMPRESSION_SCHEMA = pl.Schema({
    "request_id": pl.Int64, "day": pl.Int16, "arm": pl.String, "user_id": pl.Int32,
    "query_modality": MODALITY, "item_id": pl.Int32, "advertiser_id": pl.Int32, "position": pl.Int8,
    "bid": pl.Float32, "pctr": pl.Float32, "rank_score": pl.Float32, "price": pl.Float32,
    "reserve": pl.Float32, "true_relevance": pl.Int8, "true_ctr": pl.Float32, "click": pl.Boolean,
    "purchase": pl.Boolean, "revenue": pl.Float32,
})

REQUEST_SCHEMA = pl.Schema({
    "request_id": pl.Int64, "day": pl.Int16, "arm": pl.String, "user_id": pl.Int32,
    "query_modality": MODALITY, "n_retrieved": pl.Int32, "n_relevant_retrieved": pl.Int32,
    "n_after_relevance": pl.Int32, "n_shown": pl.Int8, "clicks": pl.Int8, "revenue": pl.Float32,
    "n_relevant_total": pl.Int32,
})

CANDIDATE_SCHEMA = pl.Schema({
    "request_id": pl.Int64, "day": pl.Int16, "arm": pl.String, "item_id": pl.Int32,
    "channel": pl.String, "retrieval_score": pl.Float32, "relevance_score": pl.Float32,
    "passed_relevance": pl.Boolean, "pctr": pl.Float32, "true_relevance": pl.Int8,
})

SCHEMAS = {"impressions": IMPRESSION_SCHEMA, "requests": REQUEST_SCHEMA, "candidates": CANDIDATE_SCHEMA}


def conform(frame: pl.DataFrame, schema: pl.Schema, table: str) -> pl.DataFrame:
    """Select the schema's columns in order and cast them; missing columns are an error."""
    missing = [c for c in schema if c not in frame.columns]
    if missing:
        raise DataError(f"{table} log lacks columns {missing}")
    return frame.select(pl.col(c).cast(dtype, strict=True) for c, dtype in schema.items())


def partition_dir(run_dir: str | Path, table: str, arm: str, day: int) -> Path:
    return Path(run_dir) / "logs" / table / f"arm={arm}" / f"day={day}"


def clear_logs(run_dir: str | Path, arm: str, day: int) -> None:
    """Remove every log part of (arm, day), so a rerun never mixes its parts with an earlier run's."""
    for table in SCHEMAS:
        folder = partition_dir(run_dir, table, arm, day)
        if folder.is_dir():
            for part in folder.glob("part-*.parquet"):
                part.unlink()


def write_log(run_dir: str | Path, table: str, frame: pl.DataFrame, part: int = 0) -> Path | None:
    """Write one part file of `table`; the frame must hold exactly one arm and one day.

    An empty frame (a batch that showed no ads) writes nothing: readers filter by arm and day.
    """
    if frame.height == 0:
        return None
    frame = conform(frame, SCHEMAS[table], table)
    arms, days = frame["arm"].unique().to_list(), frame["day"].unique().to_list()
    if len(arms) != 1 or len(days) != 1:
        raise DataError(f"{table} log part must hold one arm and one day, got arms={arms} days={days}")
    path = partition_dir(run_dir, table, arms[0], days[0]) / f"part-{part:05d}.parquet"
    write_parquet(frame, path)
    return path


def scan_log(run_dir: str | Path, table: str) -> pl.LazyFrame:
    """Lazy scan over every part of `table` in a run folder."""
    root = Path(run_dir) / "logs" / table
    if not any(root.glob("arm=*/day=*/part-*.parquet")):
        raise DataError(f"no {table} logs under {root}")
    return pl.scan_parquet(root / "arm=*" / "day=*" / "part-*.parquet", hive_partitioning=False,
                           schema=SCHEMAS[table])


def scan_impressions(run_dir: str | Path) -> pl.LazyFrame:
    return scan_log(run_dir, "impressions")
