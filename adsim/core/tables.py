"""Typed column tables: dataclasses whose fields are equal-length numpy arrays.

`to_frame` / `from_frame` convert such a table to and from a polars DataFrame without loss:
2-D arrays become fixed-size Array columns, object arrays become strings, fields marked with
`enum_field` become polars Enums, and nested tables are flattened with a `name_` prefix.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, TypeVar

import numpy as np
import polars as pl

from adsim.core.errors import DataError

T = TypeVar("T")


def enum_field(categories: tuple[str, ...]) -> Any:
    """A field holding int8 codes that is stored as a polars Enum of `categories`."""
    return dataclasses.field(metadata={"enum": categories})


def n_rows(table: Any) -> int:
    first = getattr(table, dataclasses.fields(table)[0].name)
    return n_rows(first) if dataclasses.is_dataclass(first) else len(first)


def to_frame(table: Any) -> pl.DataFrame:
    """Columns of `table` as a DataFrame, in field order."""
    columns: list[pl.Series] = []
    for f in dataclasses.fields(table):
        value = getattr(table, f.name)
        if dataclasses.is_dataclass(value):
            columns.extend(s.alias(f"{f.name}_{s.name}") for s in to_frame(value).get_columns())
        elif "enum" in f.metadata:
            cats = f.metadata["enum"]
            columns.append(pl.Series(f.name, np.asarray(cats, dtype=object)[value].tolist(), dtype=pl.Enum(cats)))
        elif value.dtype == object:
            columns.append(pl.Series(f.name, value.tolist(), dtype=pl.String))
        else:
            columns.append(pl.Series(f.name, value))
    return pl.DataFrame(columns)


def from_frame(cls: type[T], frame: pl.DataFrame, prefix: str = "") -> T:
    """Rebuild a table of type `cls` from `to_frame`'s output, checking that columns exist."""
    hints = typing.get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        name = prefix + f.name
        if dataclasses.is_dataclass(hints[f.name]):
            values[f.name] = from_frame(hints[f.name], frame, prefix=f"{name}_")
            continue
        if name not in frame.columns:
            raise DataError(f"table {cls.__name__} lacks column '{name}'")
        col = frame[name]
        if "enum" in f.metadata:
            values[f.name] = col.to_physical().to_numpy().astype(np.int8)
        elif col.dtype == pl.String:
            values[f.name] = np.array(col.to_list(), dtype=object)
        else:
            values[f.name] = np.array(col.to_numpy())
    return cls(**values)


def tables_equal(a: Any, b: Any) -> bool:
    """True when two tables of the same type hold identical columns (dtype and values)."""
    if type(a) is not type(b):
        return False
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if dataclasses.is_dataclass(x):
            if not tables_equal(x, y):
                return False
        elif x.dtype != y.dtype or x.shape != y.shape or not np.array_equal(x, y):
            return False
    return True


def take(table: T, index: np.ndarray) -> T:
    """Rows `index` of a table (fancy indexing applied to every column)."""
    values = {}
    for f in dataclasses.fields(table):
        v = getattr(table, f.name)
        values[f.name] = take(v, index) if dataclasses.is_dataclass(v) else v[index]
    return type(table)(**values)


def concat_tables(parts: list[T], consume: bool = False) -> T:
    """The rows of several tables of one type, in order (nested tables concatenated alike). With
    `consume`, each column of the parts is released once it is joined, so peak memory is the result
    plus one column rather than twice the table (the parts are left empty)."""
    values = {}
    for f in dataclasses.fields(parts[0]):
        cols = [getattr(p, f.name) for p in parts]
        if consume:
            for p in parts:
                setattr(p, f.name, None)
        values[f.name] = concat_tables(cols, consume) if dataclasses.is_dataclass(cols[0]) else np.concatenate(cols)
        del cols
    return type(parts[0])(**values)
