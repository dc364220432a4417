"""A public log in one shape: impressions (user, item, time, click, slot, split) with integer codes,
sorted by user and time, in Parquet parts that each hold whole users; the item side (category,
brand, advertiser codes); the vocabularies back to the dataset's own ids.

A format module (`taobao`, `amazon`) describes its files as a `LogSource` of lazy frames with string
ids; `prepare` encodes, sorts and parts it on polars's streaming engine, so memory follows the part
size, not the log. Code 0 of every vocabulary means missing or unknown.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import polars as pl

from adsim.core.errors import DataError
from adsim.core.files import write_json, write_parquet
from adsim.core.rng import hash_keys
from adsim.datasets.log_behaviour import (EVENT_COLUMNS, BehaviourPart, read_behaviour, read_profiles, write_behaviour,
                                         write_profiles)
from adsim.datasets.log_parts import part_starts, part_vocabs, stage_parts, staged_part
from adsim.datasets.schema import collect_checked

PART_ROWS = 1_000_000  # impressions per part (whole users, so a part can run over for one heavy user)
SPLITS = ("train", "test")
ITEM_FIELDS = ("category", "brand", "advertiser")
VOCABS = ("user", "item", "slot") + ITEM_FIELDS
LOG_COLUMNS = ["user", "item", "time", "click", "slot", "split"]


@dataclass(frozen=True)
class LogSource:
    """What a format module hands over: impressions with columns user, item (strings), time (Int64),
    click (Int8), slot (string), split (Int8: 0 train, 1 test), repeated rows allowed (`prepare`
    keeps the first); items with item and ITEM_FIELDS
    (strings, nullable) and price (Float64, nullable); `negatives` sampled unclicked items per click
    (logs without impressions)."""

    impressions: pl.LazyFrame
    items: pl.LazyFrame
    name: str
    negatives: int = 0
    behaviour: pl.LazyFrame | None = None  # user, time, kind, category, brand (adsim.datasets.log_behaviour)
    kinds: tuple[str, ...] = ()            # the behaviour's event kinds, in code order from 1
    profiles: pl.LazyFrame | None = None   # user and string profile fields


@dataclass(frozen=True)
class LogPart:
    """One part's impressions, whole users, sorted by (user, time)."""

    user: np.ndarray   # int32 codes
    item: np.ndarray   # int32 codes
    time: np.ndarray   # int64
    click: np.ndarray  # int8
    slot: np.ndarray   # int8 codes
    split: np.ndarray  # int8, index into SPLITS

    def rows(self, mask: np.ndarray) -> "LogPart":
        """The rows where `mask` holds (still sorted by user and time)."""
        return LogPart(**{k: getattr(self, k)[mask] for k in LogPart.__dataclass_fields__})


@dataclass(frozen=True)
class PreparedLog:
    """A prepared log on disk and its small tables in memory."""

    folder: Path
    vocab: dict[str, np.ndarray]  # name -> ids (object), row = code
    item_side: dict[str, np.ndarray]  # ITEM_FIELDS -> (n_items,) int32 codes
    item_price: np.ndarray  # (n_items,) float64, NaN where unknown
    n_rows: int
    name: str
    kinds: tuple[str, ...] = ()          # behaviour event kinds (empty: the log has no behaviour)
    profile: np.ndarray | None = None    # (n_users, fields) int32 codes, 0 missing
    profile_sizes: dict[str, int] | None = None  # field -> table size
    events: int | None = None            # behaviour events kept (None: the log has no behaviour)

    def parts(self) -> list[Path]:
        return sorted((self.folder / "impressions").glob("part-*.parquet"))

    def behaviour_part(self, path: Path) -> BehaviourPart | None:
        """The behaviour events of the users of impression part `path`, None without a behaviour log."""
        return read_behaviour(self.folder / "behaviour" / path.name) if self.kinds else None

    def read_part(self, path: Path) -> LogPart:
        frame = pl.read_parquet(path)
        return LogPart(**{k: frame[k].to_numpy() for k in LogPart.__dataclass_fields__})

    def size(self, name: str) -> int:
        return len(self.vocab[name])


def _vocabularies(values: dict[str, tuple[pl.LazyFrame, bool]]) -> dict[str, pl.DataFrame]:
    """Each column's distinct ids, sorted, with codes (from 1 where 0 stands for missing). One plan
    at a time: run together, polars caches a scan the plans share whole (4 GB for 110 M behaviour
    events), where apart each streams it (1.3 GB at most, for a tenth more time)."""
    out = {}
    for name, (lf, reserve) in values.items():
        ids = collect_checked(lf.drop_nulls().unique(), "the vocabulary")
        out[name] = ids.sort("id").with_row_index("code", offset=1 if reserve else 0).with_columns(pl.col("code").cast(pl.Int32))
    return out


def _encode(lf: pl.LazyFrame, column: str, vocab: pl.DataFrame) -> pl.LazyFrame:
    codes = vocab.lazy().rename({"id": column, "code": f"{column}_code"})
    return lf.join(codes, on=column, how="left").drop(column).rename({f"{column}_code": column}).with_columns(
        pl.col(column).fill_null(0))


def prepare(source: LogSource, out: Path, seed: int) -> PreparedLog:
    """Encode, de-duplicate, sort and part `source` under `out` (written anew), a part at a time
    (adsim.datasets.log_parts); `seed` draws sampled negatives."""
    imp = source.impressions.select("user", "item", "time", "click", "slot", "split").with_columns(pl.col("slot").fill_null(""))
    items = source.items.select("item", *ITEM_FIELDS, pl.col("price").cast(pl.Float64)).unique(subset="item", keep="first")
    vocab = _vocabularies({
        "user": (imp.select(pl.col("user").alias("id")), True),
        "item": (pl.concat([imp.select(pl.col("item").alias("id")), items.select(pl.col("item").alias("id"))]), True),
        "slot": (imp.select(pl.col("slot").alias("id")), False),
        **{f: (_with_behaviour(items.select(pl.col(f).alias("id")), source.behaviour, f), True) for f in ITEM_FIELDS}})
    if vocab["user"].height == 0:
        raise DataError(f"{source.name}: no impressions with a user and an item")
    per_user = collect_checked(imp.group_by("user").len(), source.name).join(
        vocab["user"].rename({"id": "user"}), on="user").sort("code")["len"].to_numpy()
    starts = part_starts(per_user, PART_ROWS)
    first_ids = vocab["user"]["id"].gather(starts[1:])
    staging = out / "_staging"
    stage_parts(imp.with_row_index("_row"), first_ids, staging / "impressions", source.name)
    n_rows = _write_parts(staging / "impressions", vocab, starts, out / "impressions", source.negatives, seed)
    item_side = _item_side(items, vocab)
    for name, frame in vocab.items():
        write_parquet(frame, out / f"vocab_{name}.parquet")
    write_parquet(pl.DataFrame(item_side), out / "items.parquet")
    meta = {"name": source.name, "rows": n_rows, "negatives": source.negatives, "kinds": [], "profile_sizes": None}
    if source.behaviour is not None:
        stage_parts(source.behaviour.select(*EVENT_COLUMNS), first_ids, staging / "behaviour", f"{source.name} behaviour")
        meta["events"] = write_behaviour(staging / "behaviour", vocab, source.kinds, starts, out / "behaviour")
        meta["kinds"] = list(source.kinds)
    shutil.rmtree(staging, ignore_errors=True)
    if source.profiles is not None:
        meta["profile_sizes"] = write_profiles(source.profiles, vocab["user"], out / "profiles.parquet", f"{source.name} profiles")
    write_json(meta, out / "manifest.json")
    return load_prepared(out)


def _with_behaviour(ids: pl.LazyFrame, behaviour: pl.LazyFrame | None, field: str) -> pl.LazyFrame:
    """The item file's ids of `field`, and the behaviour log's where it names the field (category,
    brand), so an event and an ad of one category share a code."""
    if behaviour is None or field not in ("category", "brand"):
        return ids
    return pl.concat([ids, behaviour.select(pl.col(field).alias("id"))])


def _item_side(items: pl.LazyFrame, vocab: dict[str, pl.DataFrame]) -> dict[str, np.ndarray]:
    """(n_items + 1,) codes of each item field, 0 for items the item file does not describe, and
    their prices (NaN where unknown)."""
    lf = items
    for f in ("item",) + ITEM_FIELDS:
        lf = _encode(lf, f, vocab[f])
    frame = collect_checked(lf, "the item file")
    n = vocab["item"].height + 1
    out = {}
    for f in ITEM_FIELDS:
        col = np.zeros(n, np.int32)
        col[frame["item"].to_numpy()] = frame[f].to_numpy()
        out[f] = col
    price = np.full(n, np.nan)
    price[frame["item"].to_numpy()] = frame["price"].fill_null(np.nan).to_numpy()
    out["price"] = price
    return out


def _write_parts(staging: Path, vocab: dict[str, pl.DataFrame], starts: list[int], folder: Path, negatives: int,
                 seed: int) -> int:
    """Each staged part encoded, its repeated rows dropped (the first kept), sorted by (user, time,
    item) in the log's order, with sampled negatives; the rows written."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("part-*.parquet"):
        old.unlink()
    users = part_vocabs(vocab["user"], starts)
    total = before = 0
    for k, user_vocab in enumerate(users):
        frame = staged_part(staging, k, {})
        lf = _encode(frame.lazy(), "user", user_vocab)
        for name in ("item", "slot"):
            lf = _encode(lf, name, vocab[name])
        frame = lf.sort("user", "time", "item", "_row").unique(subset=LOG_COLUMNS, keep="first", maintain_order=True).collect()
        offset, before = before, before + frame.height  # the rows' global index draws their negatives
        if negatives:
            frame = _with_negatives(frame, negatives, vocab["item"].height, seed, offset)
        total += frame.height
        write_parquet(frame.select(pl.col("user").cast(pl.Int32), pl.col("item").cast(pl.Int32), pl.col("time").cast(pl.Int64),
                                   pl.col("click").cast(pl.Int8), pl.col("slot").cast(pl.Int8), pl.col("split").cast(pl.Int8)),
                      folder / f"part-{k:05d}.parquet")
    return total


def _with_negatives(frame: pl.DataFrame, k: int, n_items: int, seed: int, offset: int) -> pl.DataFrame:
    """After each clicked row, k rows of the same user, time and slot on items drawn uniformly from the
    catalogue by a counter-based hash of the row's global index (so parts do not change the draws);
    a draw that hits the clicked item moves to the next item."""
    if n_items < 2:
        raise DataError("sampled negatives need at least two items in the catalogue")
    local = np.flatnonzero(frame["click"].to_numpy() == 1)
    draws = hash_keys(seed, "replay-negatives", np.repeat(local + offset, k), np.tile(np.arange(k), len(local)))
    item = (draws % np.uint64(n_items)).astype(np.int64) + 1
    clicked = np.repeat(frame["item"].to_numpy()[local].astype(np.int64), k)
    item = np.where(item == clicked, item % n_items + 1, item)
    base = frame.with_columns(pl.Series("_order", np.arange(frame.height, dtype=np.int64) * (k + 1)))
    neg = base[np.repeat(local, k)].with_columns(
        pl.Series("item", item).cast(frame["item"].dtype), pl.lit(0, frame["click"].dtype).alias("click"),
        pl.col("_order") + pl.Series(np.tile(np.arange(1, k + 1, dtype=np.int64), len(local))))
    return pl.concat([base, neg]).sort("_order").drop("_order")


def load_prepared(folder: Path) -> PreparedLog:
    """A prepared log back from `folder`, one error if it is not one."""
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        raise DataError(f"{folder} is not a prepared log (no manifest.json)")
    meta = json.loads(manifest.read_text())
    vocab = {}
    for name in VOCABS:
        frame = pl.read_parquet(folder / f"vocab_{name}.parquet")
        ids = np.empty(frame.height + (0 if name == "slot" else 1), dtype=object)
        ids[frame["code"].to_numpy()] = frame["id"].to_numpy()
        vocab[name] = ids
    items = pl.read_parquet(folder / "items.parquet")
    sizes = meta.get("profile_sizes")
    profile = read_profiles(folder / "profiles.parquet", len(vocab["user"]), list(sizes)) if sizes else None
    return PreparedLog(folder=folder, vocab=vocab, item_side={f: items[f].to_numpy() for f in ITEM_FIELDS},
                       item_price=items["price"].to_numpy(), n_rows=int(meta["rows"]), name=meta["name"],
                       kinds=tuple(meta.get("kinds", ())), profile=profile, profile_sizes=sizes, events=meta.get("events"))


def iter_parts(log: PreparedLog) -> Iterator[LogPart]:
    for path in log.parts():
        yield log.read_part(path)
