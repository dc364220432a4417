import re

import numpy as np
import polars as pl
import pytest

from adsim.core.errors import DataError
from adsim.core.tables import take
from adsim.serving.logs import IMPRESSION_SCHEMA, SCHEMAS, scan_impressions, scan_log, write_log
from adsim.truth.clicks import simulate_outcomes
from adsim.truth.ground_truth import attractiveness, click_probability, examination, purchase_probability, relevance
from tests.support import ROOT


def random_slate_impressions(world, arm: str, day: int, n_slots: int = 4) -> pl.DataFrame:
    """Impressions of a policy that shows random same-leaf ads (a stand-in for the engine)."""
    req = take(world.requests, np.flatnonzero(world.requests.day == day)[:300])
    items = world.items
    rng = np.random.default_rng(day)
    by_leaf = [np.flatnonzero(items.leaf == l) for l in range(40)]
    shown = np.stack([rng.choice(by_leaf[l], n_slots) if len(by_leaf[l]) else rng.integers(0, len(items.leaf), n_slots)
                      for l in req.intent.leaf])
    pos = np.broadcast_to(np.arange(n_slots), shown.shape)
    ctr = click_probability(world.users, req.user_id, req.intent, items, shown, pos, 0.8)
    out = simulate_outcomes(world.seed, req.request_id[:, None], shown, pos, examination(pos, 0.8),
                            attractiveness(world.users, req.user_id, req.intent, items, shown),
                            purchase_probability(world.users, req.user_id, req.intent, items, shown))
    price = items.bid[shown] * 0.7
    rep = lambda a: np.repeat(a, n_slots)
    return pl.DataFrame({
        "request_id": rep(req.request_id), "day": rep(req.day), "arm": arm, "user_id": rep(req.user_id),
        "query_modality": np.array(["text", "image", "multimodal"])[rep(req.modality)],
        "item_id": shown.ravel(), "advertiser_id": items.advertiser_id[shown].ravel(), "position": pos.ravel(),
        "bid": items.bid[shown].ravel(), "pctr": np.full(shown.size, 0.05), "rank_score": items.bid[shown].ravel() * 0.05,
        "price": price.ravel(), "reserve": np.full(shown.size, 0.01),
        "true_relevance": relevance(req.intent, items, shown).ravel(), "true_ctr": ctr.ravel(),
        "click": out.click.ravel(), "purchase": out.purchase.ravel(), "revenue": np.where(out.click, price, 0).ravel(),
    })


def test_impressions_round_trip_through_partitions(smoke_world, tmp_path):
    frames = {(arm, day): random_slate_impressions(smoke_world, arm, day) for arm in ("control", "treatment") for day in (0, 1)}
    for frame in frames.values():
        write_log(tmp_path, "impressions", frame)
    assert (tmp_path / "logs/impressions/arm=treatment/day=1/part-00000.parquet").is_file()
    lazy = scan_impressions(tmp_path)
    assert isinstance(lazy, pl.LazyFrame)
    assert lazy.collect_schema() == IMPRESSION_SCHEMA
    got = lazy.filter((pl.col("arm") == "control") & (pl.col("day") == 1)).collect()
    want = frames[("control", 1)].cast(dict(IMPRESSION_SCHEMA))
    assert got.sort("request_id", "position").equals(want.sort("request_id", "position"))
    stats = lazy.select(pl.len(), pl.col("click").sum(), pl.col("true_ctr").sum(),
                        ((pl.col("revenue") - pl.col("price") * pl.col("click").cast(pl.Float32)).abs().max())).collect().row(0)
    assert stats[0] == 4 * 1200
    assert abs(stats[1] - stats[2]) < 4 * np.sqrt(stats[2])  # clicks match true CTR
    assert stats[3] == 0


def test_bad_log_parts_are_refused(smoke_world, tmp_path):
    frame = random_slate_impressions(smoke_world, "control", 0)
    with pytest.raises(DataError, match="lacks columns"):
        write_log(tmp_path, "impressions", frame.drop("price"))
    with pytest.raises(DataError, match="one arm and one day"):
        write_log(tmp_path, "impressions", pl.concat([frame, frame.with_columns(pl.lit("t").alias("arm"))]))
    with pytest.raises(DataError, match="no requests logs"):
        scan_log(tmp_path, "requests")


def test_readme_documents_every_column():
    text = (ROOT / "logs" / "README.md").read_text()
    for table, schema in SCHEMAS.items():
        section = text.split(f"## {table}")[1].split("\n## ")[0]
        documented = re.findall(r"^\| (\w+) \| (\w+) \|", section, flags=re.M)
        assert [c for c, _ in documented if c != "column"] == list(schema), table


def test_a_batch_that_showed_nothing_writes_no_part(tmp_path):
    assert write_log(tmp_path, "impressions", pl.DataFrame(schema=IMPRESSION_SCHEMA)) is None
    assert not (tmp_path / "logs").exists()
