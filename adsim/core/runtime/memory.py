"""A process's memory: what it holds now and at its peak, and handing freed heap back to the OS.

glibc keeps the memory a phase frees (many mid-sized numpy buffers fragment its heap) for later
allocations, so a process's resident size after day 0 or after training stays near that phase's
peak: at a million ads about 1 GB a rank. `malloc_trim(0)` returns the free pages at once. Other
C libraries (macOS, musl) have no such call; there `release_free_memory` does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import resource
import sys

GB = 1e9


@functools.cache
def _trim():
    """glibc's malloc_trim, or None where the C library has none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        fn = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    fn.argtypes, fn.restype = [ctypes.c_size_t], ctypes.c_int
    return fn


def release_free_memory() -> bool:
    """Return the heap's free pages to the OS; True where anything could be released."""
    fn = _trim()
    return bool(fn(0)) if fn is not None else False


def peak_rss_bytes() -> int:
    """The most this process has held resident (what `/usr/bin/time -v` reports for it)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # macOS reports bytes, Linux KiB


def rss_bytes() -> int | None:
    """What this process holds resident now; None where /proc is absent."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))
    except (OSError, StopIteration, ValueError):
        return None


def memory_note() -> str:
    """"RSS 2.31 GB, peak 3.30 GB": for the progress lines of long runs."""
    now = rss_bytes()
    return (f"RSS {now / GB:.2f} GB, " if now is not None else "") + f"peak {peak_rss_bytes() / GB:.2f} GB"
