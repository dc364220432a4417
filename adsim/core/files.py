"""Atomic output: write to a temporary file beside the target, then rename over it.

An interrupted run never leaves a half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import uuid
from pathlib import Path
from typing import Any, Iterator

import polars as pl

from adsim.core.errors import DataError


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success rename it to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    # Created like any new file (0666 less the process umask), unlike mkstemp's 0600.
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_parquet(frame: pl.DataFrame, path: str | Path) -> None:
    """Deterministic zstd Parquet, written atomically."""
    with atomic_path(path) as tmp:
        frame.write_parquet(tmp, compression="zstd", compression_level=3, statistics=True)


def strict(obj: Any) -> Any:
    """`obj` with every non-finite float (NaN, infinity) as None, so that it is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict(v) for v in obj]
    return obj


def nan_for_null(values: dict[str, Any]) -> dict[str, Any]:
    """A flat dict of numbers read back from strict JSON: None (a NaN when written) -> NaN."""
    return {k: float("nan") if v is None else v for k, v in values.items()}


def write_json(obj: Any, path: str | Path) -> None:
    """Strict JSON (NaN and infinity written as null), atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(strict(obj), indent=2, sort_keys=True, allow_nan=False) + "\n")


def write_text(text: str, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_npz(arrays: dict[str, Any], path: str | Path) -> None:
    """Compressed NumPy arrays (no pickled objects), written atomically."""
    import numpy as np
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)


def read_npz(path: str | Path) -> dict[str, Any]:
    """Every array of a `write_npz` file, turning a missing or corrupt file into one DataError."""
    import numpy as np
    path = Path(path)
    if not path.is_file():
        raise DataError(f"missing file: {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception as err:  # NumPy, zipfile and zlib raise several types for corrupt files
        raise DataError(f"cannot read {path}: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}") from None


def read_parquet(path: str | Path) -> pl.DataFrame:
    """Read a Parquet file, turning missing or corrupt files into one DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"missing file: {path}")
    try:
        return pl.read_parquet(path)
    except Exception as err:  # polars raises several types for corrupt files
        raise DataError(f"cannot read {path}: {type(err).__name__}: {str(err).splitlines()[0]}") from None


def read_json(path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"missing file: {path}")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"corrupt JSON in {path}: {err}") from None
