"""Column specs of public log formats, and lazy polars scans that check them.

A file is opened lazily (`scan_file`): its header or first records are read at once, so a missing
file, an empty or corrupt file and a missing column fail before any work, in one line naming the
file and the column. Types are cast strictly inside the lazy plan; a value that does not parse fails
when the plan runs (`collect_checked`), again in one line naming the file and, from polars's
message, the column.
"""

from __future__ import annotations

import contextlib
import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import polars as pl

from adsim.core.errors import DataError
from adsim.core.files import atomic_path

NULL_VALUES = ["\\N", "NULL", "null", "None", ""]  # how the public dumps spell a missing value


@dataclass(frozen=True)
class Column:
    """One column a format requires: its name and the type it is read as."""

    name: str
    dtype: pl.DataType | None  # None: any type (kept as read)
    lenient: bool = False      # a value that does not parse becomes null (Amazon's free-text prices)


@dataclass(frozen=True)
class FileSpec:
    """A file of a format: the stem it is found by and the columns it must hold."""

    stem: str
    columns: tuple[Column, ...]
    optional: tuple[str, ...] = ()  # string columns read where present, null where not

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


def find_file(folder: Path, stem: str, suffixes: tuple[str, ...]) -> Path:
    """`folder/stem<suffix>` for the first suffix present, else one error naming what was looked for."""
    for suffix in suffixes:
        path = folder / f"{stem}{suffix}"
        if path.is_file():
            return path
    raise DataError(f"missing file: {folder / stem}{suffixes[0]} (also tried {', '.join(suffixes[1:]) or 'nothing else'})")


def _check_gzip(path: Path) -> None:
    """A gzipped file must decompress to its end: polars reads a truncated one without a word."""
    try:
        with gzip.open(path, "rb") as f:
            while f.read(1 << 24):
                pass
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"corrupt gzip file {path}: {err}") from None


def _polars_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def scan_file(path: Path, spec: FileSpec) -> pl.LazyFrame:
    """The spec's columns of a CSV, JSON-lines (either gzipped or not) or Parquet file, cast to their
    types, lazily."""
    if not path.is_file():
        raise DataError(f"missing file: {path}")
    if path.stat().st_size == 0:
        raise DataError(f"empty file: {path}")
    if path.suffix == ".gz":
        _check_gzip(path)
    is_json = ".jsonl" in path.suffixes or ".json" in path.suffixes
    try:
        lf = (pl.scan_parquet(path) if path.suffix == ".parquet" else pl.scan_ndjson(path, infer_schema_length=1000) if is_json
              else pl.scan_csv(path, infer_schema=False, null_values=NULL_VALUES, truncate_ragged_lines=True))
        schema = lf.collect_schema()
        if any(n != n.strip() for n in schema.names()):  # e.g. Taobao's `new_user_class_level `
            lf = lf.rename({n: n.strip() for n in schema.names()})
            schema = lf.collect_schema()
    except Exception as err:  # polars raises several types for unreadable files
        raise DataError(f"cannot read {path}: {_polars_line(err)}") from None
    missing = [c for c in spec.names if c not in schema]
    if missing:
        raise DataError(f"{path} lacks column '{missing[0]}' (a {spec.stem} file needs {', '.join(spec.names)})")
    try:
        extra = [pl.col(c).cast(pl.String) if c in schema else pl.lit(None, pl.String).alias(c) for c in spec.optional]
        return lf.select(*(_cast(c, schema[c.name]) for c in spec.columns), *extra)
    except DataError as err:
        raise DataError(f"{path}: {err}") from None


def _cast(col: Column, found: pl.DataType) -> pl.Expr:
    """A strict cast to the column's type; strings that spell null (`\\N`, `None`) are nulls first."""
    expr = pl.col(col.name)
    if col.dtype is None:
        return expr
    if found == col.dtype or found == pl.Null:
        return expr.cast(col.dtype)
    if isinstance(col.dtype, pl.List):
        if not isinstance(found, pl.List):
            raise DataError(f"column '{col.name}' must be a list, got {found}")
        return expr.cast(col.dtype, strict=True)
    if found == pl.String:
        expr = expr.str.strip_chars()
        expr = pl.when(expr.is_in(NULL_VALUES)).then(None).otherwise(expr)
    return expr.cast(col.dtype, strict=not col.lenient).alias(col.name)


@contextlib.contextmanager
def plan_errors(what: str) -> Iterator[None]:
    """A parse or cast failure of a polars plan as one line naming `what` and the column polars names."""
    try:
        yield
    except DataError:
        raise
    except Exception as err:  # polars raises several types
        raise DataError(f"bad value in {what}: {_polars_line(err)}") from None


def collect_checked(lf: pl.LazyFrame, what: str) -> pl.DataFrame:
    """Run a lazy plan on the streaming engine, so memory follows its chunks."""
    with plan_errors(what):
        return lf.collect(engine="streaming")


def check_values(lf: pl.LazyFrame, what: str) -> dict[str, int]:
    """Read every column once through its cast (a plain row count would skip the casts), so a value
    that does not parse fails now, naming `what` and the column; returns each column's nulls and
    the row count under "rows"."""
    counts = collect_checked(lf.select(pl.all().null_count(), pl.len().alias("rows")), what)
    return counts.row(0, named=True)


def sink_checked(lf: pl.LazyFrame, path: Path, what: str) -> None:
    """Stream a lazy plan into a Parquet file (written beside `path`, then renamed into place)."""
    with plan_errors(what), atomic_path(path) as tmp:
        lf.sink_parquet(tmp, compression="zstd")
