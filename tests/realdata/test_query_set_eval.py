"""Scoring embeddings on a query set: recall by its definition, missing ids as misses, CIs."""

import numpy as np
import polars as pl

from adsim import cli
from adsim.datasets.fixtures import write_query_set
from adsim.datasets.query_set import load_query_set
from adsim.realdata.query_set_eval import evaluate_query_set, query_recalls


def test_recall_counts_relevant_items_in_the_top_k():
    items = np.eye(4, dtype=np.float32)
    query = np.array([[1, 0.5, 0, 0], [0, 0, 0, 1]], np.float32)
    relevant = np.array([[1, 2], [3, -1]])
    r = query_recalls(query, items, relevant, np.array([2, 2]), (1, 2, 3))  # query 2 has one id the catalogue lacks
    assert r[1].tolist() == [0.0, 0.5] and r[2].tolist() == [0.5, 0.5] and r[3].tolist() == [1.0, 0.5]


def test_better_query_embeddings_score_higher_with_intervals(tmp_path):
    good = write_query_set(tmp_path / "good", n_queries=150, n_items=400, noise=0.3)
    bad = write_query_set(tmp_path / "bad", n_queries=150, n_items=400, noise=3.0)
    query_set = load_query_set(good / "queries.jsonl")
    hi = evaluate_query_set(query_set, "good", good / "item_embeddings.parquet", good / "query_embeddings.parquet")
    lo = evaluate_query_set(query_set, "bad", bad / "item_embeddings.parquet", bad / "query_embeddings.parquet")
    h, l = hi.metrics["all"]["recall@10"], lo.metrics["all"]["recall@10"]
    assert h["ci_low"] > l["ci_high"]
    assert h["ci_low"] <= h["value"] <= h["ci_high"]
    assert set(hi.metrics) == {"all", "text", "image", "multimodal"} and hi.relevant_not_in_catalogue > 0


def test_eval_cli_bad_input_is_one_line(tmp_path, capsys):
    folder = write_query_set(tmp_path, n_queries=20, n_items=30)
    q = pl.read_parquet(folder / "query_embeddings.parquet")[:-1]
    q.write_parquet(folder / "short.parquet")
    base = ["encoder", "eval", "--queries", str(folder / "queries.jsonl"), "--out", str(tmp_path / "o")]
    for extra, expected in ((["--item-embeddings", str(folder / "item_embeddings.parquet")], "needs --item-embeddings and"),
                            (["--item-embeddings", str(folder / "item_embeddings.parquet"), "--query-embeddings",
                              str(folder / "short.parquet")], "lack query_id")):
        assert cli.main(base + extra) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and expected in err[0], err
    assert cli.main(base + ["--item-embeddings", str(folder / "item_embeddings.parquet"), "--query-embeddings",
                            str(folder / "query_embeddings.parquet")]) == 0
    assert (tmp_path / "o" / "report.json").exists()
