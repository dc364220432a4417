"""Wall time per serving stage, accumulated across batches (for `adsim bench`)."""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Iterator


class StageTimer:
    """`with timer.stage("ranking"): ...` adds the block's wall time to `seconds["ranking"]`."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.seconds[name] += time.perf_counter() - start


class NoTimer(StageTimer):
    """A timer that records nothing (serving outside `adsim bench`)."""

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        yield
