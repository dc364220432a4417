"""The Taobao loader on generated files of its exact format, quirks and bad files included."""

import gzip

import polars as pl
import pytest

from adsim.core.errors import DataError
from adsim.datasets import taobao
from adsim.datasets.fixtures import FixtureSpec, write_taobao

SMALL = FixtureSpec(n_users=40, n_items=60, per_user_day=4)


@pytest.fixture()
def folder(tmp_path):
    return write_taobao(tmp_path / "tb", SMALL)


def test_log_is_typed_and_split_on_the_last_day(folder):
    imp = taobao.log_source(folder).impressions.collect().unique()  # repeated rows are prepare's to drop
    assert imp.height == SMALL.n_users * SMALL.n_days * SMALL.per_user_day
    assert imp.schema["time"] == pl.Int64 and imp.schema["user"] == pl.String
    day = (imp["time"] + taobao.CHINA_OFFSET) // taobao.DAY_SECONDS
    assert set(imp.filter(pl.col("split") == 1)["time"].to_list()) <= set(imp.filter(day == day.max())["time"].to_list())
    assert imp["split"].sum() == SMALL.n_users * SMALL.per_user_day  # one day of eight tests
    assert set(imp["slot"].unique().to_list()) == {"430548_1007", "430539_1007"}


def test_null_spellings_and_the_header_with_a_trailing_space_are_read(folder):
    ads = taobao.log_source(folder).items.collect()
    assert ads["brand"].null_count() > 0 and "NULL" not in ads["brand"].to_list()
    profile = taobao.user_profile(folder).collect()
    assert "new_user_class_level" in profile.columns and 0 < profile.height < SMALL.n_users  # some users lack one
    assert profile["pvalue_level"].null_count() > 0  # `\\N` cells
    assert set(taobao.behaviour(folder).collect()["btag"].unique().to_list()) <= set(taobao.BTAGS)


def test_gzipped_files_read_the_same(tmp_path):
    plain = taobao.log_source(write_taobao(tmp_path / "a", SMALL)).impressions.collect()
    gz = taobao.log_source(write_taobao(tmp_path / "b", FixtureSpec(**{**SMALL.__dict__, "gzip": True}))).impressions.collect()
    assert plain.equals(gz)


def _rewrite(path, edit):
    lines = path.read_text().splitlines()
    path.write_text("\n".join(edit(lines)) + "\n")


BAD = [
    ("missing file", lambda f: (f / "raw_sample.csv").unlink(), "missing file"),
    ("missing column", lambda f: _rewrite(f / "raw_sample.csv", lambda ls: [",".join(x.split(",")[:5]) for x in ls]),
     "lacks column 'clk'"),
    ("wrong type", lambda f: _rewrite(f / "raw_sample.csv", lambda ls: ls[:3] + ["1000,yesterday,1,430548_1007,1,0"] + ls[3:]),
     "time_stamp"),
    ("not a label", lambda f: _rewrite(f / "raw_sample.csv", lambda ls: ls + ["1000,1494000000,1,430548_1007,0,2"]),
     "column 'clk'"),
    ("empty file", lambda f: (f / "raw_sample.csv").write_text(""), "empty file"),
    ("header only", lambda f: (f / "raw_sample.csv").write_text("user,time_stamp,adgroup_id,pid,nonclk,clk\n"), "no impressions"),
    ("ad_feature column", lambda f: _rewrite(f / "ad_feature.csv", lambda ls: [x.replace("cate_id", "category") for x in ls]),
     "lacks column 'cate_id'"),
]


@pytest.mark.parametrize("case, damage, expected", BAD, ids=[b[0] for b in BAD])
def test_bad_files_fail_in_one_line_naming_file_and_column(folder, case, damage, expected):
    damage(folder)
    with pytest.raises(DataError) as err:
        src = taobao.log_source(folder)
        src.items.collect()
    message = str(err.value)
    assert expected in message and "\n" not in message
    assert ("raw_sample" in message) or ("ad_feature" in message)


def test_corrupt_gzip_is_one_line(tmp_path):
    folder = write_taobao(tmp_path / "tb", FixtureSpec(**{**SMALL.__dict__, "gzip": True}))
    data = (folder / "raw_sample.csv.gz").read_bytes()
    (folder / "raw_sample.csv.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="corrupt gzip file .*raw_sample.csv.gz"):
        taobao.log_source(folder)
    assert gzip.decompress(data)  # the intact file was fine


@pytest.mark.parametrize("row, expected", [
    ("1000,1494000000,click,3,101", "column 'btag' has 1 values outside pv, cart, fav, buy"),
    ("1000,1494000000000,pv,3,101", "column 'time_stamp' has 1 values outside 2000-01-01"),  # milliseconds
    ("1000,-5,pv,3,101", "column 'time_stamp' has 1 values outside"),
    ("1000,yesterday,pv,3,101", "time_stamp"),
])
def test_bad_behaviour_rows_are_named_in_one_line(folder, row, expected):
    _rewrite(folder / "behavior_log.csv", lambda ls: ls + [row])
    with pytest.raises(DataError, match=expected) as err:
        taobao.log_source(folder)
    assert "behavior_log" in str(err.value) and "\n" not in str(err.value)


def test_impression_time_stamps_out_of_range_are_named(folder):
    _rewrite(folder / "raw_sample.csv", lambda ls: ls + ["1000,1494000000000,1,430548_1007,1,0"])
    with pytest.raises(DataError, match="raw_sample: column 'time_stamp' has 1 values outside"):
        taobao.log_source(folder)


def test_behaviour_and_profiles_are_optional(folder):
    (folder / "behavior_log.csv").unlink()
    (folder / "user_profile.csv").unlink()
    src = taobao.log_source(folder)
    assert src.behaviour is None and src.profiles is None


def test_a_log_written_in_blocks_of_users_has_every_user_once_and_fresh_draws_per_block(tmp_path, monkeypatch):
    from adsim.datasets import taobao_fixture
    monkeypatch.setattr(taobao_fixture, "BLOCK_USERS", 7)  # 40 users: six blocks, the last of five
    spec = FixtureSpec(**{**SMALL.__dict__, "signal": "behaviour", "write_truth": True, "gzip": True})
    folder = write_taobao(tmp_path / "tb", spec)
    imp = taobao.log_source(folder).impressions.collect().unique()
    per_user = imp.group_by("user").len()
    assert per_user.height == SMALL.n_users and set(per_user["len"].to_list()) == {SMALL.n_days * SMALL.per_user_day}
    events = taobao.behaviour(folder).collect()
    assert events["user"].n_unique() == SMALL.n_users
    truth = pl.read_parquet(folder / "click_probability.parquet")
    assert truth.height == imp.height and truth["p"].is_between(0, 1).all()
    day0 = imp.with_columns(pl.col("user").cast(pl.Int64) - 1000).filter(pl.col("user").is_in([0, 7]))
    first, second = (day0.filter(pl.col("user") == u).sort("time")["time"].to_numpy() % 86_400 for u in (0, 7))
    assert not (first == second).all()  # block 1 does not replay block 0's draws


def test_the_full_size_is_taobaos_and_an_unknown_size_is_one_error(tmp_path):
    from adsim.core.errors import ConfigError
    from adsim.datasets.fixtures import write_fixture
    for fmt, size in (("amazon", "full"), ("taobao", "huge")):
        with pytest.raises(ConfigError, match="size must be one of small, full"):
            write_fixture(fmt, tmp_path / "x", size=size)
