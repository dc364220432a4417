"""`precomputed`: item and query embeddings read from files a user provides.

encoder_args: `items` and `queries`, each a `.npy` file ((n, dim) float, row i = id i) or a
Parquet file with an id column (`item_id` / `request_id`) and an `embedding` column (a fixed-size
or list float column). Both are checked for shape, dtype, NaNs and coverage of every id.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from adsim.core.errors import DataError
from adsim.core.files import read_parquet
from adsim.world.view import WorldView
from encoders.provider import check_embeddings, normalise
from encoders.provider_args import PrecomputedArgs


def read_embedding_file(path: str | Path, id_column: str, n_rows: int, what: str) -> np.ndarray:
    """(n_rows, dim) float32 with row i = id i, from .npy or Parquet."""
    path = Path(path)
    if path.suffix == ".npy":
        if not path.is_file():
            raise DataError(f"{what}: missing file {path}")
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as err:
            raise DataError(f"{what}: cannot read {path}: {err}") from None
        return check_embeddings(arr, n_rows, None, f"{what} ({path})")
    if path.suffix != ".parquet":
        raise DataError(f"{what}: {path} must be .npy or .parquet")
    frame = read_parquet(path)
    for col in (id_column, "embedding"):
        if col not in frame.columns:
            raise DataError(f"{what}: {path} lacks column '{col}'")
    if not isinstance(frame.schema["embedding"], (pl.Array, pl.List)):
        raise DataError(f"{what}: {path} column 'embedding' must be an array of floats, got {frame.schema['embedding']}")
    ids = frame[id_column].to_numpy()
    if len(np.unique(ids)) != len(ids):
        raise DataError(f"{what}: {path} has duplicate {id_column} values")
    if len(ids) != n_rows or ids.min() != 0 or ids.max() != n_rows - 1:
        raise DataError(f"{what}: {path} must cover {id_column} 0..{n_rows - 1} exactly, got {len(ids)} rows")
    lengths = frame["embedding"].list.len() if isinstance(frame.schema["embedding"], pl.List) else None
    if lengths is not None and lengths.n_unique() != 1:
        raise DataError(f"{what}: {path} embeddings have differing lengths")
    try:
        arr = np.stack(frame["embedding"].to_numpy()) if lengths is not None else frame["embedding"].to_numpy()
    except (ValueError, TypeError) as err:
        raise DataError(f"{what}: {path} embedding column is not numeric: {err}") from None
    out = np.empty_like(arr)
    out[ids] = arr
    return check_embeddings(out, n_rows, None, f"{what} ({path})")


class PrecomputedProvider:
    """Embeddings read from `args.items` and `args.queries`, checked against the world's ids."""

    def __init__(self, view: WorldView, args: PrecomputedArgs, name: str = "precomputed"):
        self.name = name
        self._items = read_embedding_file(args.items, "item_id", len(view.items.item_id), "item embeddings")
        self._queries = read_embedding_file(args.queries, "request_id", len(view.requests.request_id), "query embeddings")
        if self._items.shape[1] != self._queries.shape[1]:
            raise DataError(f"item embeddings have dimension {self._items.shape[1]} but query embeddings {self._queries.shape[1]}")
        self.dim = self._items.shape[1]

    def item_embeddings(self) -> np.ndarray:
        return normalise(self._items)

    def query_embeddings(self, request_ids: np.ndarray) -> np.ndarray:
        return normalise(self._queries[np.asarray(request_ids)])
