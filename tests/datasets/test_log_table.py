"""Preparing a log: codes back to the dataset's ids, parts of whole users, sampled negatives."""

import numpy as np
import polars as pl
import pytest

from adsim.datasets import amazon, log_table, taobao
from adsim.datasets.fixtures import FixtureSpec, write_amazon, write_taobao

SMALL = FixtureSpec(n_users=40, n_items=60, per_user_day=4)


def _rows(log):
    parts = [log.read_part(p) for p in log.parts()]
    return {k: np.concatenate([getattr(p, k) for p in parts]) for k in log_table.LogPart.__dataclass_fields__}, parts


def test_codes_map_back_to_the_logs_ids_and_rows_are_sorted(tmp_path):
    folder = write_taobao(tmp_path / "tb", SMALL)
    log = log_table.prepare(taobao.log_source(folder), tmp_path / "prep", seed=0)
    rows, _ = _rows(log)
    with_repeats = taobao.log_source(folder).impressions.collect()
    raw = with_repeats.unique().sort("user", "time", "item")
    assert log.n_rows == raw.height == len(rows["user"]) < with_repeats.height  # the dump's repeated rows are dropped
    pairs = set(zip(log.vocab["user"][rows["user"]], log.vocab["item"][rows["item"]], rows["time"].tolist()))
    assert pairs == set(zip(raw["user"], raw["item"], raw["time"]))
    key = rows["user"].astype(np.int64) * 10**10 + rows["time"]
    assert (np.diff(key) >= 0).all()
    ads = pl.read_csv(folder / "ad_feature.csv", infer_schema=False)
    cate = dict(zip(ads["adgroup_id"], ads["cate_id"]))
    for code in (1, 7, 33):
        assert log.vocab["category"][log.item_side["category"][code]] == cate[log.vocab["item"][code]]
    assert log.vocab["brand"][0] is None and (log.item_side["brand"] == 0).any()  # "NULL" brands are missing


def test_parts_hold_whole_users_and_do_not_change_the_negatives(tmp_path, monkeypatch):
    folder = write_amazon(tmp_path / "am", SMALL)
    whole, _ = _rows(log_table.prepare(amazon.log_source(folder, negatives=3), tmp_path / "one", seed=5))
    monkeypatch.setattr(log_table, "PART_ROWS", 50)
    log = log_table.prepare(amazon.log_source(folder, negatives=3), tmp_path / "many", seed=5)
    rows, parts = _rows(log)
    assert len(parts) > 3
    users = [set(p.user.tolist()) for p in parts]
    assert all(not (a & b) for i, a in enumerate(users) for b in users[i + 1:])
    for k in whole:
        np.testing.assert_array_equal(whole[k], rows[k])
    click = rows["click"] == 1
    assert (~click).sum() == 3 * click.sum()
    pos = np.flatnonzero(click)
    for j in range(1, 4):  # each review is followed by its negatives: same user and time, another item
        assert (rows["user"][pos + j] == rows["user"][pos]).all() and (rows["time"][pos + j] == rows["time"][pos]).all()
        assert (rows["item"][pos + j] != rows["item"][pos]).all() and (rows["click"][pos + j] == 0).all()
    other, _ = _rows(log_table.prepare(amazon.log_source(folder, negatives=3), tmp_path / "seed", seed=6))
    assert not np.array_equal(other["item"], rows["item"])


def test_repeated_rows_are_dropped_part_by_part_as_over_the_whole_log(tmp_path, monkeypatch):
    folder = write_taobao(tmp_path / "tb", SMALL)
    whole, _ = _rows(log_table.prepare(taobao.log_source(folder), tmp_path / "one", seed=0))
    monkeypatch.setattr(log_table, "PART_ROWS", 100)
    rows, parts = _rows(log_table.prepare(taobao.log_source(folder), tmp_path / "many", seed=0))
    assert len(parts) > 5
    for k in whole:
        np.testing.assert_array_equal(whole[k], rows[k])


def test_a_folder_that_is_not_a_prepared_log_is_one_error(tmp_path):
    from adsim.core.errors import DataError
    with pytest.raises(DataError, match="not a prepared log"):
        log_table.load_prepared(tmp_path)


def test_behaviour_events_land_in_their_users_part_sorted_causal_and_deduplicated(tmp_path, monkeypatch):
    folder = write_taobao(tmp_path / "tb", SMALL)
    monkeypatch.setattr(log_table, "PART_ROWS", 300)
    log = log_table.prepare(taobao.log_source(folder), tmp_path / "prep", seed=0)
    assert len(log.parts()) > 2 and log.kinds == taobao.BTAGS
    raw = pl.read_csv(folder / "behavior_log.csv", infer_schema=False).unique()
    kept = 0
    for path in log.parts():
        part, ev = log.read_part(path), log.behaviour_part(path)
        assert set(np.unique(ev.user)) <= set(np.unique(part.user))
        key = ev.user.astype(np.int64) * 10**10 + ev.time
        assert (np.diff(key) >= 0).all() and ev.kind.min() >= 1
        kept += len(ev.user)
    assert kept == raw.height  # every user of the behaviour log has impressions; repeats dropped
    ev = log.behaviour_part(log.parts()[0])
    assert log.vocab["category"][ev.category[0]] is not None  # behaviour categories share the item vocabulary


def test_profiles_are_one_code_row_per_user_with_zeros_where_missing(tmp_path):
    folder = write_taobao(tmp_path / "tb", SMALL)
    log = log_table.prepare(taobao.log_source(folder), tmp_path / "prep", seed=0)
    assert log.profile.shape == (len(log.vocab["user"]), 8) and set(log.profile_sizes) == set(taobao.USER_PROFILE.names[1:])
    missing = (log.profile == 0).all(1)
    assert missing[0] and 0 < missing[1:].sum() < SMALL.n_users  # code 0 and the users without a row
    pvalue = list(log.profile_sizes).index("pvalue_level")
    assert ((log.profile[:, pvalue] == 0) & ~missing).any()  # a `\N` cell


@pytest.mark.parametrize("rows, part_rows, starts", [
    ([3, 3, 3, 3], 6, [0, 2]),          # a part ends with the user whose rows reach the multiple
    ([1, 1, 10], 5, [0]),               # a heavy last user runs the only part over; no empty part
    ([7, 1, 1], 5, [0, 1]),             # a heavy first user is a part of its own
    ([2] * 10, 100, [0]),
])
def test_parts_start_at_user_boundaries(rows, part_rows, starts):
    from adsim.datasets.log_parts import part_starts
    assert part_starts(np.asarray(rows, np.uint32), part_rows) == starts
