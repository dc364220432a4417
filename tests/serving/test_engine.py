"""The serving loop on the smoke world: the three logs agree with each other and the auction rules."""

import numpy as np
import polars as pl

from adsim.core.config import load_config
from adsim.runs.protocol import bootstrap_system, logged_sequences
from adsim.serving.engine import serve_day
from adsim.serving.logs import scan_log
from adsim.serving.timer import StageTimer
from tests.support import SMOKE


def test_logs_agree_and_respect_the_auction(smoke_world, tmp_path):
    cfg = load_config(SMOKE, ["engine.log_candidates=true", "engine.batch_size=500"])
    w = smoke_world
    system = bootstrap_system(w, cfg)
    timer = StageTimer()
    result = serve_day(w, system, 0, logged_sequences(w, cfg.world.seq_len), tmp_path, cfg.clicks, cfg.engine,
                       log_arm="boot", timer=timer)
    assert {"retrieval", "ranking", "auction", "clicks", "logging"} <= set(timer.seconds)
    imp = scan_log(tmp_path, "impressions").collect()
    req = scan_log(tmp_path, "requests").collect()
    cand = scan_log(tmp_path, "candidates").collect()
    assert len(list((tmp_path / "logs/impressions/arm=boot/day=0").glob("part-*.parquet"))) == 3  # 1500 / 500
    assert req.height == 1500 and (req["request_id"].sort().to_numpy() == result.request_ids).all()
    assert (imp["price"] <= imp["bid"] + 1e-6).all() and (imp["price"] >= imp["reserve"] - 1e-6).all()
    assert np.allclose(imp["revenue"], imp["price"] * imp["click"].cast(pl.Float32))
    assert imp.group_by("request_id").agg(pl.len())["len"].max() <= cfg.auction.n_slots
    per_req = imp.group_by("request_id").agg(pl.col("click").sum().alias("c"), pl.len().alias("n"))
    joined = req.join(per_req, on="request_id", how="left").fill_null(0)
    assert (joined["clicks"] == joined["c"]).all() and (joined["n_shown"] == joined["n"]).all()
    assert imp["click"].sum() == result.clicks.sum()
    # Candidates: every shown ad was a candidate that passed relevance; ranker scores only where it passed.
    shown = imp.select("request_id", "item_id").join(cand, on=["request_id", "item_id"], how="left")
    assert shown["passed_relevance"].all()
    assert cand.filter(~pl.col("passed_relevance"))["pctr"].is_nan().all()
    per_req_cand = cand.group_by("request_id").agg(pl.len().alias("n"), pl.col("passed_relevance").sum().alias("p"))
    j = req.join(per_req_cand, on="request_id")
    assert (j["n_retrieved"] == j["n"]).all() and (j["n_after_relevance"] == j["p"]).all()
    assert set(cand["channel"].unique()) <= {"query", "i2i", "lexical"}
