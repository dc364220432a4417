"""`adsim encoder encode`: a real text encoder over an Amazon-format catalogue and a query set,
keyed by the dataset's ids."""

import numpy as np
import polars as pl
import pytest

from adsim import cli
from adsim.datasets.fixtures import FixtureSpec, write_amazon, write_query_set
from encoders.precomputed import read_keyed_embeddings


@pytest.fixture(scope="module")
def encoded(tmp_path_factory):
    root = tmp_path_factory.mktemp("encode")
    data = write_amazon(root / "am", FixtureSpec(n_users=10, n_items=40, per_user_day=2))
    query_set = write_query_set(root / "qb", n_queries=12, n_items=20)
    args = ["encoder", "encode", "--data", str(data), "--format", "amazon", "--queries", str(query_set / "queries.jsonl"),
            "--out", str(root / "out" / "items.parquet")]
    assert cli.main(args) == 0
    return data, root


def test_every_catalogue_item_gets_a_unit_embedding_under_its_own_id(encoded):
    data, root = encoded
    items = pl.read_parquet(root / "out" / "items.parquet")
    meta = pl.read_ndjson(data / "meta_All_Beauty.jsonl")
    assert items["item_id"].to_list() == meta["parent_asin"].to_list()
    emb = np.stack(items["embedding"].to_numpy())
    assert emb.shape == (40, 384) and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
    vocab = np.array([None] + meta["parent_asin"].to_list()[::-1], dtype=object)
    table, missing = read_keyed_embeddings(root / "out" / "items.parquet", vocab)
    assert missing == 0 and np.allclose(table[1], emb[-1])  # replay reads it by the dataset's ids
    queries = pl.read_parquet(root / "out" / "query_embeddings.parquet")
    assert queries.height == 12 and queries.columns == ["query_id", "embedding"]


def test_a_catalogue_without_text_is_one_line(tmp_path, capsys):
    from adsim.datasets.fixtures import write_taobao
    data = write_taobao(tmp_path / "tb", FixtureSpec(n_users=5, n_items=5, per_user_day=1))
    assert cli.main(["encoder", "encode", "--data", str(data), "--format", "taobao", "--out", str(tmp_path / "x.parquet")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no titles or images" in err[0]
    assert not (tmp_path / "x.parquet").exists()
