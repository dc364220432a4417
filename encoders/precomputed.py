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
    ids, arr = embedding_frame(read_parquet(path), id_column, path, what)
    if len(ids) != n_rows or ids.min() != 0 or ids.max() != n_rows - 1:
        raise DataError(f"{what}: {path} must cover {id_column} 0..{n_rows - 1} exactly, got {len(ids)} rows")
    out = np.empty_like(arr)
    out[ids] = arr
    return check_embeddings(out, n_rows, None, f"{what} ({path})")


def embedding_frame(frame: pl.DataFrame, id_column: str, path: Path, what: str) -> tuple[np.ndarray, np.ndarray]:
    """The ids and (n, dim) embeddings of a Parquet embedding file, checked: both columns present,
    an array-of-floats embedding of one length, no duplicate id."""
    for col in (id_column, "embedding"):
        if col not in frame.columns:
            raise DataError(f"{what}: {path} lacks column '{col}'")
    if not isinstance(frame.schema["embedding"], (pl.Array, pl.List)):
        raise DataError(f"{what}: {path} column 'embedding' must be an array of floats, got {frame.schema['embedding']}")
    ids = frame[id_column].to_numpy()
    if frame[id_column].n_unique() != len(ids):
        raise DataError(f"{what}: {path} has duplicate {id_column} values")
    if frame[id_column].null_count():
        raise DataError(f"{what}: {path} has rows without an {id_column}")
    lengths = frame["embedding"].list.len() if isinstance(frame.schema["embedding"], pl.List) else None
    if lengths is not None and lengths.n_unique() != 1:
        raise DataError(f"{what}: {path} embeddings have differing lengths")
    try:
        arr = np.stack(frame["embedding"].to_numpy()) if lengths is not None else frame["embedding"].to_numpy()
    except (ValueError, TypeError) as err:
        raise DataError(f"{what}: {path} embedding column is not numeric: {err}") from None
    return ids, arr


def read_id_embeddings(path: str | Path, id_column: str, what: str) -> tuple[np.ndarray, np.ndarray]:
    """The ids (as strings) and unit-norm (n, dim) float32 embeddings of a Parquet file keyed by a
    dataset's own ids (`id_column`, string or integer)."""
    path = Path(path)
    if path.suffix != ".parquet":
        raise DataError(f"{what}: {path} must be a .parquet file with {id_column} and embedding columns")
    frame = read_parquet(path)
    if id_column in frame.columns:
        frame = frame.with_columns(pl.col(id_column).cast(pl.String))
    ids, arr = embedding_frame(frame, id_column, path, what)
    return ids.astype(object), normalise(check_embeddings(arr, len(arr), None, f"{what} ({path})"))


def id_rows(ids: np.ndarray, vocab: np.ndarray) -> np.ndarray:
    """(len(ids),) each id's row in `vocab` (strings; None rows never match), -1 where absent: one join."""
    table = pl.DataFrame({"id": pl.Series(list(vocab), dtype=pl.String), "row": np.arange(len(vocab), dtype=np.int64)})
    found = pl.DataFrame({"id": pl.Series(list(ids), dtype=pl.String)}).join(
        table.drop_nulls("id").unique("id", keep="first"), on="id", how="left", maintain_order="left")
    return found["row"].fill_null(-1).to_numpy()


def read_keyed_embeddings(path: str | Path, vocab: np.ndarray, what: str = "item embeddings") -> tuple[np.ndarray, int]:
    """(len(vocab), dim) unit-norm float32 embeddings of a Parquet file keyed by a dataset's own ids
    (`item_id`), row i for vocab[i]; rows the file lacks are zero. Also returns how many vocabulary
    ids the file lacks (code 0, 'missing', not counted)."""
    ids, arr = read_id_embeddings(path, "item_id", what)
    rows = id_rows(ids, vocab)
    out = np.zeros((len(vocab), arr.shape[1]), np.float32)
    out[rows[rows >= 0]] = arr[rows >= 0]
    found = np.zeros(len(vocab), bool)
    found[rows[rows >= 0]] = True
    return out, int((~found[1:]).sum())


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
