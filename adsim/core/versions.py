"""What a saved result was made by, so caches know when they are stale.

`code_version(scope)` is the package version plus a hash of the source files that shape results
of that scope: the world and the encoder models and their training for a trained encoder; for
day-0 logs and arm outcomes everything that runs an arm (not the studies that fit its results, so
a change to an exchange-rate fit does not re-serve the arms); for a study's results, that and the
studies. `file_digest` is a content hash of a file a provider reads
(weights, embeddings). Cache keys carry both, so a code change or a retrained checkpoint forces a
recompute instead of silently mixing versions.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the folder holding adsim/, stages/ and encoders/
SCOPES = {
    "encoder": ("adsim/core", "adsim/truth", "adsim/world", "stages/lexical.py", "encoders/nets",
                "encoders/reasoning", "encoders/training"),
    # day-0 logs and arm outcomes: the code that runs an arm, not the studies that fit its results
    "experiment": ("adsim/core", "adsim/truth", "adsim/world", "adsim/serving", "adsim/runs", "adsim/stats", "encoders", "stages"),
    # a study's saved results (an A/A simulation's p-values): the arms' code and the study's
    "study": ("adsim/core", "adsim/truth", "adsim/world", "adsim/serving", "adsim/runs", "adsim/stats", "adsim/studies",
              "encoders", "stages"),
}


def _sources(entries: tuple[str, ...]) -> list[Path]:
    files: list[Path] = []
    for entry in entries:
        path = ROOT / entry
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return files


@functools.cache
def source_digest(scope: str) -> str:
    """sha256 (16 hex digits) of the relative paths and contents of the scope's source files."""
    h = hashlib.sha256()
    for path in _sources(SCOPES[scope]):
        h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def package_version() -> str:
    try:
        return importlib.metadata.version("adsim")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "0+source"


def code_version(scope: str) -> str:
    return f"{package_version()}+{source_digest(scope)}"


@functools.cache
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def file_digest(path: str | Path) -> str:
    """Content hash of a file (computed once per process per size and modification time); "missing" if absent."""
    try:
        st = os.stat(path)
    except OSError:
        return "missing"
    return _file_digest(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
