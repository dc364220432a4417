"""Taobao display advertising (Ali_Display_Ad_Click, Tianchi dataset 56) by its real file and column
names, read lazily and checked.

    raw_sample.csv    user, time_stamp, adgroup_id, pid, nonclk, clk    (26M impressions, 8 days)
    ad_feature.csv    adgroup_id, cate_id, campaign_id, customer, brand, price
    user_profile.csv  userid, cms_segid, cms_group_id, final_gender_code, age_level, pvalue_level,
                      shopping_level, occupation, new_user_class_level   (the last has a trailing space in the dump)
    behavior_log.csv  user, time_stamp, btag, cate, brand               (pv, cart, fav, buy)

The usual split: the first seven days train, the eighth tests. Days start at midnight in China
(UTC+8), where the log was recorded. Any file may be gzipped (`raw_sample.csv.gz`).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from adsim.core.errors import DataError
from adsim.datasets.log_table import LogSource
from adsim.datasets.schema import Column, FileSpec, collect_checked, find_file, scan_file

S, I, F = pl.String, pl.Int64, pl.Float64
RAW_SAMPLE = FileSpec("raw_sample", (Column("user", S), Column("time_stamp", I), Column("adgroup_id", S),
                                     Column("pid", S), Column("nonclk", I), Column("clk", I)))
AD_FEATURE = FileSpec("ad_feature", (Column("adgroup_id", S), Column("cate_id", S), Column("campaign_id", S),
                                     Column("customer", S), Column("brand", S), Column("price", F)))
USER_PROFILE = FileSpec("user_profile", tuple(Column(c, S) for c in (
    "userid", "cms_segid", "cms_group_id", "final_gender_code", "age_level", "pvalue_level", "shopping_level",
    "occupation", "new_user_class_level")))
BEHAVIOR_LOG = FileSpec("behavior_log", (Column("user", S), Column("time_stamp", I), Column("btag", S),
                                         Column("cate", S), Column("brand", S)))
SUFFIXES = (".csv", ".csv.gz")
DAY_SECONDS = 86_400
CHINA_OFFSET = 8 * 3600  # the log's days begin at midnight UTC+8
BTAGS = ("pv", "cart", "fav", "buy")
TIME_RANGE = (946_684_800, 4_102_444_800)  # 2000-01-01 to 2100-01-01: seconds since 1970, as the dump writes them


def _out_of_range(column: str) -> pl.Expr:
    return (pl.col(column).is_not_null() & ~pl.col(column).is_between(*TIME_RANGE, closed="left")).sum()


def _range_error(folder: Path, stem: str, n: int) -> DataError:
    return DataError(f"{folder}/{stem}: column 'time_stamp' has {n} values outside 2000-01-01 .. 2100-01-01 "
                     "(seconds since 1970 expected)")


def open_file(folder: Path, spec: FileSpec) -> pl.LazyFrame:
    """A Taobao file of `folder`, its columns checked and typed."""
    return scan_file(find_file(folder, spec.stem, SUFFIXES), spec)


KEYS = ["user", "adgroup_id", "time_stamp", "clk"]


def impressions(folder: Path) -> tuple[pl.LazyFrame, int]:
    """raw_sample with rows without a user, ad, time or label dropped (repeated rows are prepare's to
    drop, a part at a time), and the last day it covers; checked in one pass over the file (every value through its cast, clk 0 or 1, nonclk
    = 1 - clk where present)."""
    path = find_file(folder, RAW_SAMPLE.stem, SUFFIXES)
    raw = scan_file(path, RAW_SAMPLE)
    kept = pl.all_horizontal(pl.col(c).is_not_null() for c in KEYS)
    day = (pl.col("time_stamp") + CHINA_OFFSET) // DAY_SECONDS
    stats = collect_checked(raw.select(
        pl.all().null_count().name.suffix("_nulls"),  # reads every column through its cast
        (kept & ~pl.col("clk").is_in([0, 1])).sum().alias("clk"),
        (kept & pl.col("nonclk").is_not_null() & (pl.col("nonclk") != 1 - pl.col("clk"))).sum().alias("nonclk"),
        kept.sum().alias("rows"), day.filter(kept).max().alias("last"), _out_of_range("time_stamp").alias("range")),
        str(path)).row(0, named=True)
    if stats["rows"] == 0:
        raise DataError(f"{folder}/raw_sample: no impressions with user, time_stamp, adgroup_id and clk")
    for col in ("clk", "nonclk"):
        if stats[col]:
            raise DataError(f"{folder}/raw_sample: column '{col}' has {stats[col]} values that are not a 0/1 label")
    if stats["range"]:
        raise _range_error(folder, "raw_sample", stats["range"])
    return raw.drop_nulls(KEYS), int(stats["last"])


def log_source(folder: str | Path) -> LogSource:
    """The log of a Taobao folder for replay: pid is the slot; the last day tests."""
    folder = Path(folder)
    raw, last = impressions(folder)
    day = (pl.col("time_stamp") + CHINA_OFFSET) // DAY_SECONDS
    imp = raw.select(pl.col("user"), pl.col("adgroup_id").alias("item"), pl.col("time_stamp").alias("time"),
                     pl.col("clk").cast(pl.Int8).alias("click"), pl.col("pid").alias("slot"),
                     (day == last).cast(pl.Int8).alias("split"))
    ad_path = find_file(folder, AD_FEATURE.stem, SUFFIXES)
    ads = collect_checked(scan_file(ad_path, AD_FEATURE), str(ad_path)).lazy().select(
        pl.col("adgroup_id").alias("item"), pl.col("cate_id").alias("category"), pl.col("brand"),
        pl.col("customer").alias("advertiser"), pl.col("price"))
    events = profiles = None
    if _present(folder, BEHAVIOR_LOG.stem):
        events = behaviour(folder).select(pl.col("user"), pl.col("time_stamp").alias("time"), pl.col("btag").alias("kind"),
                                          pl.col("cate").alias("category"), pl.col("brand"))
    if _present(folder, USER_PROFILE.stem):
        profiles = user_profile(folder).rename({"userid": "user"})
    return LogSource(impressions=imp, items=ads, name=f"taobao ({folder})", behaviour=events, kinds=BTAGS, profiles=profiles)


def _present(folder: Path, stem: str) -> bool:
    """Whether an optional file (behavior_log, user_profile) is there; without it replay reads less."""
    return any((folder / f"{stem}{s}").is_file() for s in SUFFIXES)


def behaviour(folder: str | Path) -> pl.LazyFrame:
    """behavior_log, checked in one pass: btag one of pv, cart, fav, buy; time stamps in range. Rows
    without a user or time are dropped."""
    path = find_file(Path(folder), BEHAVIOR_LOG.stem, SUFFIXES)
    lf = scan_file(path, BEHAVIOR_LOG)
    stats = collect_checked(lf.select((pl.col("btag").is_not_null() & ~pl.col("btag").is_in(BTAGS)).sum().alias("btag"),
                                      _out_of_range("time_stamp").alias("range")), str(path)).row(0, named=True)
    if stats["btag"]:
        raise DataError(f"{folder}/behavior_log: column 'btag' has {stats['btag']} values outside {', '.join(BTAGS)}")
    if stats["range"]:
        raise _range_error(Path(folder), "behavior_log", stats["range"])
    return lf.drop_nulls(["user", "time_stamp"])


def user_profile(folder: str | Path) -> pl.LazyFrame:
    """user_profile, every field a string (the dump's codes), `\\N` and blanks as missing."""
    return open_file(Path(folder), USER_PROFILE)
