"""What a real log adds to replay's batches (adsim.realdata.log_features): nothing at or after an
impression's time reaches its row, and the price buckets follow the catalogue's quantiles."""

import dataclasses

import numpy as np

from adsim.datasets import log_table, taobao
from adsim.datasets.fixtures import FixtureSpec, write_taobao
from adsim.realdata.log_features import batch_side, log_sizes, part_side, price_buckets
from adsim.realdata.replay_settings import LOG_FEATURES

SMALL = FixtureSpec(n_users=30, n_items=40, per_user_day=3, signal="behaviour")


def _sides(log, part, events, rows):
    sizes = log_sizes(log, LOG_FEATURES)
    side = part_side(log, part, events, sizes)
    return batch_side(log, part, side, rows, sizes, 8, price_buckets(log.item_price))


def rng_rows(n: int) -> np.ndarray:
    return np.random.default_rng(0).choice(n, 15, replace=False)


def test_events_at_or_after_an_impression_never_reach_its_row(tmp_path):
    """Shown to fail when the join reads one event too far (a mutation run while writing it)."""
    log = log_table.prepare(taobao.log_source(write_taobao(tmp_path / "tb", SMALL)), tmp_path / "prep", seed=0)
    path = log.parts()[0]
    part, events = log.read_part(path), log.behaviour_part(path)
    rows = np.arange(len(part.user))
    before = _sides(log, part, events, rows)
    for i in rng_rows(len(rows)):
        # Every event of row i's user at or after its time gets another category, brand and kind.
        future = (events.user == part.user[i]) & (events.time >= part.time[i])
        changed = dataclasses.replace(events, category=np.where(future, 1, events.category),
                                      brand=np.where(future, 1, events.brand), kind=np.where(future, 4, events.kind).astype(np.int8))
        after = _sides(log, part, changed, np.array([i]))
        for name in ("event_category", "event_brand", "event_kind", "event_len", "affinity"):
            assert np.array_equal(getattr(after, name)[0].numpy(), getattr(before, name)[i].numpy()), name


def test_price_buckets_are_quantiles_and_unknown_prices_are_zero():
    price = np.array([np.nan, 0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0])
    codes = price_buckets(price, n=4)
    assert codes[:2].tolist() == [0, 0]  # unknown and non-positive
    assert codes[2:].tolist() == sorted(codes[2:].tolist()) and set(codes[2:]) == {1, 2, 3, 4}
