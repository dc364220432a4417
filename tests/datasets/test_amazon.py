"""The Amazon Reviews 2023 loader on generated files of its exact format, bad files included."""

import gzip
import json

import polars as pl
import pytest

from adsim.core.errors import DataError
from adsim.datasets import amazon
from adsim.datasets.fixtures import FixtureSpec, write_amazon

SMALL = FixtureSpec(n_users=30, n_items=50, per_user_day=3)
CAT = "All_Beauty"


@pytest.fixture()
def folder(tmp_path):
    return write_amazon(tmp_path / "am", SMALL, category=CAT)


def test_reviews_become_clicks_and_each_users_last_review_tests(folder):
    src = amazon.log_source(folder)
    imp = src.impressions.collect()
    assert imp["click"].min() == 1 and src.negatives == 4
    assert imp.filter(pl.col("split") == 1).group_by("user").len()["len"].max() == 1
    last = imp.group_by("user").agg(pl.col("time").max().alias("t"), pl.col("time").filter(pl.col("split") == 1).first().alias("tt"))
    assert (last["t"] == last["tt"]).all()
    raw = [json.loads(x) for x in (folder / f"{CAT}.jsonl").read_text().splitlines()]
    assert imp.height == len({(r["user_id"], r["parent_asin"], r["timestamp"]) for r in raw})  # duplicates dropped


def test_timestamp_split_holds_out_the_latest_reviews(folder):
    imp = amazon.log_source(folder, split="timestamp").impressions.collect()
    assert imp.filter(pl.col("split") == 1)["time"].min() > imp.filter(pl.col("split") == 0)["time"].max()
    assert 0.02 < imp["split"].mean() < 0.2


def test_meta_fields_with_free_text_prices_and_empty_categories(folder):
    items = amazon.log_source(folder).items.collect()
    assert items.height == SMALL.n_items
    assert items["category"].null_count() == 0  # empty categories fall back to main_category
    meta = amazon.meta(folder, CAT).collect()
    assert meta["price"].null_count() > 0 and meta["price"].dtype == pl.Float64


def test_gzipped_files_and_the_category_are_found(tmp_path):
    folder = write_amazon(tmp_path / "gz", FixtureSpec(**{**SMALL.__dict__, "gzip": True}), category="Toys")
    assert amazon.category_of(folder) == "Toys"
    assert amazon.log_source(folder).impressions.collect().height > 0


def _edit_jsonl(path, edit):
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    path.write_text("".join(json.dumps(r) + "\n" for r in edit(rows)))


BAD = [
    ("missing meta", lambda f: (f / f"meta_{CAT}.jsonl").unlink(), "meta_<Category>"),
    ("missing reviews", lambda f: (f / f"{CAT}.jsonl").unlink(), "missing file"),
    ("missing column", lambda f: _edit_jsonl(f / f"{CAT}.jsonl", lambda rs: [{k: v for k, v in r.items() if k != "user_id"} for r in rs]),
     "lacks column 'user_id'"),
    ("wrong type", lambda f: _edit_jsonl(f / f"{CAT}.jsonl", lambda rs: [{**r, "timestamp": "yesterday"} for r in rs]),
     "timestamp"),
    ("list expected", lambda f: _edit_jsonl(f / f"meta_{CAT}.jsonl", lambda rs: [{**r, "categories": "Beauty"} for r in rs]),
     "column 'categories' must be a list"),
    ("empty file", lambda f: (f / f"{CAT}.jsonl").write_text(""), "empty file"),
    ("not json", lambda f: (f / f"{CAT}.jsonl").write_text("user_id,parent_asin\nA,B\n"), "cannot read"),
]


@pytest.mark.parametrize("case, damage, expected", BAD, ids=[b[0] for b in BAD])
def test_bad_files_fail_in_one_line(folder, case, damage, expected):
    damage(folder)
    with pytest.raises(DataError) as err:
        amazon.log_source(folder)
    assert expected in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_corrupt_gzip_and_a_bad_split_are_one_line(tmp_path):
    folder = write_amazon(tmp_path / "gz", FixtureSpec(**{**SMALL.__dict__, "gzip": True}), category=CAT)
    data = (folder / f"{CAT}.jsonl.gz").read_bytes()
    (folder / f"{CAT}.jsonl.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="corrupt gzip"):
        amazon.log_source(folder)
    assert gzip.decompress(data)
    with pytest.raises(DataError, match="split must be one of"):
        amazon.log_source(folder, split="random")
