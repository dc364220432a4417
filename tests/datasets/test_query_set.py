"""The query-set format: read, typed by modality, bad files in one line."""

import json

import polars as pl
import pytest

from adsim.core.errors import DataError
from adsim.core.vocab import Modality
from adsim.datasets.fixtures import write_query_set
from adsim.datasets.query_set import load_query_set


def test_rows_become_text_image_and_multimodal_queries(tmp_path):
    folder = write_query_set(tmp_path, n_queries=30, n_items=50)
    query_set = load_query_set(folder / "queries.jsonl")
    assert len(query_set.query_id) == 30
    assert set(query_set.modality.tolist()) == {Modality.TEXT, Modality.IMAGE, Modality.MULTIMODAL}
    assert query_set.image[1].startswith(str(folder.resolve()))  # photo paths are relative to the file
    frame = pl.read_ndjson(folder / "queries.jsonl")
    frame.write_parquet(tmp_path / "queries.parquet")
    assert load_query_set(tmp_path / "queries.parquet").relevant == query_set.relevant


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


OK = {"query_id": "q1", "query_text": "red dress", "query_image": None, "relevant_item_ids": ["a"]}
BAD = [
    ("missing column", [{k: v for k, v in OK.items() if k != "relevant_item_ids"}], "lacks column 'relevant_item_ids'"),
    ("nothing to ask", [{**OK, "query_text": None}], "neither query_text nor query_image"),
    ("no relevant items", [{**OK, "relevant_item_ids": []}], "has no relevant_item_ids"),
    ("duplicate ids", [OK, OK], "must be present and unique"),
    ("not a list", [{**OK, "relevant_item_ids": "a"}], "must be a list"),
]


@pytest.mark.parametrize("case, rows, expected", BAD, ids=[b[0] for b in BAD])
def test_bad_query_sets_fail_in_one_line(tmp_path, case, rows, expected):
    with pytest.raises(DataError) as err:
        load_query_set(_write(tmp_path / "q.jsonl", rows))
    assert expected in str(err.value) and "\n" not in str(err.value)
