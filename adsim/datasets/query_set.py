"""A team's own intermediate-metric test set: queries and the items relevant to each.

Format (JSON lines, gzipped or not, or Parquet), one query per row:

    query_id           string, unique
    query_text         string or null   what the shopper typed
    query_image        string or null   path of the shopper's photo (relative to the file's folder)
    relevant_item_ids  list of strings  the catalogue's item ids relevant to the query (at least one)

A row with text and image is a multimodal query, with one of them a text or an image query.
`adsim encoder eval --queries FILE` scores item and query embeddings on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from adsim.core.errors import DataError
from adsim.core.vocab import MODALITIES, Modality
from adsim.datasets.schema import Column, FileSpec, collect_checked, scan_file

QUERY_SET = FileSpec("query set", (Column("query_id", pl.String), Column("relevant_item_ids", pl.List(pl.String))),
                       optional=("query_text", "query_image"))


@dataclass(frozen=True)
class QuerySet:
    """The queries of a query-set file, checked."""

    query_id: np.ndarray   # object (str)
    modality: np.ndarray   # int8 Modality codes
    text: np.ndarray       # object (str or None)
    image: np.ndarray      # object (absolute path or None)
    relevant: list[list[str]]


def load_query_set(path: str | Path) -> QuerySet:
    """The query set at `path`; one error naming the file and what is wrong with it."""
    path = Path(path)
    frame = collect_checked(scan_file(path, QUERY_SET), str(path))
    if frame.height == 0:
        raise DataError(f"{path}: no queries")
    if frame["query_id"].null_count() or frame["query_id"].n_unique() != frame.height:
        raise DataError(f"{path}: column 'query_id' must be present and unique on every row")
    text = frame["query_text"].to_numpy().astype(object)
    image = np.array([None if p is None else str((path.parent / p).resolve()) for p in frame["query_image"].to_list()], dtype=object)
    has_text = np.array([t is not None and t.strip() != "" for t in text])
    has_image = np.array([p is not None for p in image])
    if not (has_text | has_image).all():
        row = int(np.flatnonzero(~(has_text | has_image))[0])
        raise DataError(f"{path}: query {frame['query_id'][row]!r} has neither query_text nor query_image")
    relevant = [list(r) if r is not None else [] for r in frame["relevant_item_ids"].to_list()]
    empty = [q for q, r in zip(frame["query_id"].to_list(), relevant) if not r]
    if empty:
        raise DataError(f"{path}: query {empty[0]!r} has no relevant_item_ids")
    modality = np.where(has_text & has_image, Modality.MULTIMODAL, np.where(has_image, Modality.IMAGE, Modality.TEXT))
    return QuerySet(frame["query_id"].to_numpy().astype(object), modality.astype(np.int8), text, image, relevant)


def modality_names(query_set: QuerySet) -> list[str]:
    return [MODALITIES[m] for m in sorted(set(query_set.modality.tolist()))]
