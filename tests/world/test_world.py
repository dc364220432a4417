import dataclasses

import numpy as np
import pytest

from adsim.core.config import load_config
from adsim.core.errors import DataError
from adsim.core.tables import tables_equal
from adsim.core.taxonomy import COLOURS, LEAF_TOP, LEAVES, PATTERNS, STYLES, TOP_CATEGORIES
from adsim.world.build import build_world
from adsim.world.store import load_world, save_world


def test_taxonomy_sizes():
    assert len(TOP_CATEGORIES) >= 8
    assert np.bincount(LEAF_TOP).min() >= 4
    assert len(COLOURS) >= 12 and len(PATTERNS) >= 8 and len(STYLES) >= 6


def test_catalogue_attributes(smoke_world):
    items, cfg = smoke_world.items, smoke_world.spec.world
    assert len(items.item_id) == cfg.n_items
    assert items.leaf.max() < len(LEAVES) and (LEAF_TOP[items.leaf] == items.top).all()
    assert 1 <= items.n_views.min() and items.n_views.max() <= cfg.max_views
    assert np.allclose(np.linalg.norm(items.taste, axis=1), 1.0, atol=1e-5)
    assert (items.bid > 0).all() and (items.price > 0).all()
    # Bids rise with price tier (log-normal bids correlated with price).
    assert np.corrcoef(items.price_tier, np.log(items.bid))[0, 1] > 0.2
    # Advertisers own items of their own category whenever they have one there.
    assert (smoke_world.advertisers.top[items.advertiser_id] == items.top).mean() > 0.95


def test_brands_are_zipf_popular():
    from adsim.core.config import load_config
    world = build_world(load_config(None, ["world.n_items=20000", "world.n_users=50", "traffic.n_requests=10"]))
    assert len(world.brands.brand_id) >= 200
    counts = np.sort(np.bincount(world.items.brand, minlength=len(world.brands.brand_id)))[::-1]
    top_decile = counts[: len(counts) // 10].sum() / counts.sum()
    assert top_decile > 0.3  # a few brands dominate


def test_users_have_heavy_tailed_activity(smoke_world):
    users = smoke_world.users
    assert np.allclose(users.leaf_pref.sum(1), 1, atol=1e-4)
    activity = np.sort(users.activity)[::-1]
    assert activity[: len(activity) // 10].sum() / activity.sum() > 0.25
    clicks = np.bincount(smoke_world.history.user_id, minlength=len(users.user_id))
    top = np.argsort(-users.activity)[:40]
    assert np.median(clicks[top]) > 2 * np.median(clicks)  # active users leave longer behaviour sequences
    assert clicks.max() >= smoke_world.spec.world.seq_len // 2


@pytest.mark.parametrize("config", ["smoke", "demo"])
def test_past_clicks_carry_exposure_and_position_bias(config, smoke_world):
    """The past system showed the target only sometimes and ranked its slate, and users examine
    lower slots less: a documented 15-40 % of past clicks are the target, and top slots get most."""
    world = smoke_world if config == "smoke" else build_world(load_config(None))
    h = world.history
    assert 0.15 <= h.target_click_share() <= 0.40, h.target_click_share()
    slot = (h.shown == h.item_id[:, None]).argmax(1)
    per_slot = np.bincount(slot, minlength=h.shown.shape[1]) / len(slot)
    assert per_slot[0] > per_slot[1] > per_slot[3] > per_slot[7]
    assert (h.shown == h.intent.target[:, None]).any(1).mean() < 0.7  # the target is often not even shown


def test_requests_follow_config(smoke_world):
    req, traffic = smoke_world.requests, smoke_world.spec.traffic
    # The served days, then the held-out day (never served): the same story, its own random stream.
    assert len(req.request_id) == traffic.n_requests * (traffic.n_days + 1)
    assert (np.bincount(req.day) == traffic.n_requests).all() and req.day.max() == traffic.n_days
    assert (req.request_id == np.arange(len(req.request_id))).all()
    share = np.bincount(req.modality, minlength=3) / len(req.modality)
    assert np.allclose(share, traffic.modality_mix.shares(), atol=0.04)
    assert (np.diff(req.ts) >= 0).all()
    # Image queries carry no text; text queries always do.
    assert (req.query_text[req.modality == 1] == "").all()
    assert (req.query_text[req.modality == 0] != "").all()
    # Items not yet listed are never a day's target.
    assert (smoke_world.items.listed_day[req.intent.target] <= req.day).all()


def test_history_precedes_day_zero_and_uses_established_items(smoke_world):
    h = smoke_world.history
    assert (h.ts < 0).all()
    assert all((np.diff(h.ts[h.user_id == u]) >= 0).all() for u in range(20))
    assert (h.shown == h.item_id[:, None]).any(axis=1).all()
    assert (smoke_world.items.listed_day[h.item_id] < -smoke_world.spec.world.history_days).all()
    assert 0.05 < h.purchased.mean() < 0.5


def test_round_trip_gives_identical_world(smoke_world, smoke_config, tmp_path):
    save_world(smoke_world, tmp_path, smoke_config)
    assert load_world(tmp_path).equals(smoke_world)


def test_loading_a_damaged_world_is_one_clear_error(smoke_world, smoke_config, tmp_path):
    save_world(smoke_world, tmp_path, smoke_config)
    (tmp_path / "items.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataError, match="items.parquet"):
        load_world(tmp_path)
    (tmp_path / "meta.json").unlink()
    with pytest.raises(DataError, match="missing file"):
        load_world(tmp_path)


def test_a_replicate_redraws_the_traffic_not_the_population(smoke_config):
    from adsim.world.build import build_world
    base, again = build_world(smoke_config), build_world(dataclasses.replace(smoke_config, replicate=2))
    for table in ("items", "users", "history", "advertisers"):
        assert tables_equal(getattr(base, table), getattr(again, table)), table
    assert len(base.requests.day) == len(again.requests.day)
    assert (base.requests.user_id != again.requests.user_id).mean() > 0.5
    assert build_world(dataclasses.replace(smoke_config, replicate=2)).equals(again)  # deterministic per replicate


def test_a_world_drawn_in_many_chunks_is_deterministic_and_alike(smoke_config, smoke_world, monkeypatch):
    """Chunks draw from streams of their own, so the world depends on the seed, not on threads or
    timing; many small chunks give a world of the same make as one chunk."""
    import adsim.world.behaviour as behaviour
    import adsim.world.history as history
    monkeypatch.setattr(history, "HISTORY_CHUNK_USERS", 64)
    monkeypatch.setattr(behaviour, "REQUEST_CHUNK", 256)
    a, b = build_world(smoke_config), build_world(smoke_config)
    assert a.equals(b) and not a.equals(smoke_world)
    assert a.sizes()["requests"] == smoke_world.sizes()["requests"]
    h, one = a.history, smoke_world.history
    assert abs(len(h.item_id) / len(one.item_id) - 1) < 0.1
    assert abs(h.target_click_share() - one.target_click_share()) < 0.05
    assert (np.diff(a.requests.ts[a.requests.day == 0]) >= 0).all()  # a day's requests still in time order


def test_ground_truth_in_row_blocks_equals_one_block(smoke_world, monkeypatch):
    from adsim.truth import ground_truth as gt
    req = smoke_world.requests
    cand = np.random.default_rng(0).integers(0, len(smoke_world.items.item_id), (len(req.user_id), 9))
    whole = (gt.relevance(req.intent, smoke_world.items, cand),
             gt.attractiveness_logit(smoke_world.users, req.user_id, req.intent, smoke_world.items, cand))
    monkeypatch.setattr(gt, "ROW_BLOCK", 100)
    monkeypatch.setattr(gt, "TASTE_BLOCK", 7)
    blocked = (gt.relevance(req.intent, smoke_world.items, cand),
               gt.attractiveness_logit(smoke_world.users, req.user_id, req.intent, smoke_world.items, cand))
    for x, y in zip(whole, blocked):
        assert x.dtype == y.dtype and np.array_equal(x, y)
