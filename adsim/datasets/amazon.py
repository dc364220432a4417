"""Amazon Reviews 2023 (McAuley lab) by its real file and field names, read lazily and checked.

    <Category>.jsonl       rating, title, text, images, asin, parent_asin, user_id, timestamp (ms),
                           helpful_vote, verified_purchase
    meta_<Category>.jsonl  parent_asin, title, features, description, images, categories, price, ...
                           (store, main_category and details are used where present)

Either may be gzipped. A review is a click on its item (`parent_asin`); the log has no unclicked
impressions, so replay samples `negatives` unclicked catalogue items per review. Split: each user's
last review tests (`leave-last-out`), or the latest tenth of the reviews by time (`timestamp`).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from adsim.core.errors import DataError
from adsim.datasets.log_table import LogSource
from adsim.datasets.schema import Column, FileSpec, check_values, collect_checked, find_file, scan_file

S, I, F = pl.String, pl.Int64, pl.Float64
REVIEWS = FileSpec("reviews", (Column("rating", F), Column("title", S), Column("text", S), Column("images", None),
                               Column("asin", S), Column("parent_asin", S), Column("user_id", S), Column("timestamp", I),
                               Column("helpful_vote", I), Column("verified_purchase", pl.Boolean)))
META = FileSpec("meta", (Column("parent_asin", S), Column("title", S), Column("features", pl.List(S)),
                         Column("description", pl.List(S)), Column("images", None), Column("categories", pl.List(S)),
                         Column("price", F, lenient=True)), optional=("store", "main_category"))
SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz")
SPLITS = ("leave-last-out", "timestamp")
TEST_SHARE = 0.1  # the timestamp split's latest share of reviews


def category_of(folder: Path) -> str:
    """The one category whose metadata file the folder holds."""
    names = sorted({p.name.split(".")[0][len("meta_"):] for p in folder.glob("meta_*.json*")})
    if len(names) != 1:
        raise DataError(f"{folder}: expected one meta_<Category>.jsonl file, found {len(names)}; pass the category")
    return names[0]


def reviews(folder: Path, category: str) -> pl.LazyFrame:
    """The reviews, typed, read through once so a bad value fails here, naming the file."""
    path = find_file(folder, category, SUFFIXES)
    lf = scan_file(path, REVIEWS)
    if check_values(lf, str(path))["rows"] == 0:
        raise DataError(f"{path}: no reviews")
    return lf


def meta(folder: Path, category: str) -> pl.LazyFrame:
    """The item metadata, read and checked (a catalogue fits in memory where its reviews may not)."""
    path = find_file(folder, f"meta_{category}", SUFFIXES)
    return collect_checked(scan_file(path, META), str(path)).lazy()


def log_source(folder: str | Path, category: str | None = None, split: str = "leave-last-out",
               negatives: int = 4) -> LogSource:
    """The reviews of one category as clicks, split for replay."""
    folder = Path(folder)
    if split not in SPLITS:
        raise DataError(f"amazon split must be one of {', '.join(SPLITS)}, got {split!r}")
    category = category or category_of(folder)
    rev = reviews(folder, category).drop_nulls(["user_id", "parent_asin", "timestamp"]).unique(
        subset=["user_id", "parent_asin", "timestamp"], keep="first", maintain_order=True)
    if split == "leave-last-out":
        last = pl.col("timestamp").rank("ordinal", descending=True).over("user_id") == 1
        test = last & (pl.len().over("user_id") > 1)
    else:
        cutoff = collect_checked(rev.select(pl.col("timestamp").quantile(1 - TEST_SHARE, "lower")), "the reviews").item()
        if cutoff is None:
            raise DataError(f"{folder}: no reviews with user_id, parent_asin and timestamp")
        test = pl.col("timestamp") > cutoff
    imp = rev.select(pl.col("user_id").alias("user"), pl.col("parent_asin").alias("item"), pl.col("timestamp").alias("time"),
                     pl.lit(1, pl.Int8).alias("click"), pl.lit("").alias("slot"), test.cast(pl.Int8).alias("split"))
    items = meta(folder, category).select(
        pl.col("parent_asin").alias("item"),
        pl.coalesce(pl.col("categories").list.last(), pl.col("main_category")).alias("category"),
        pl.col("store").alias("brand"), pl.col("store").alias("advertiser"), pl.col("price"))
    return LogSource(impressions=imp, items=items, name=f"amazon {category} ({folder})", negatives=negatives)
