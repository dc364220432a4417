"""Lightning's, TorchRec's and transformers' informational chatter, silenced only while a model trains or serves
(`quiet_libraries`), never at import: importing adsim changes no global state."""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from typing import Iterator

NOISY_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric", "torchrec", "torch.fx._symbolic_trace")
NOISY_WARNINGS = (".*does not have many workers.*", ".*is_fx_tracing.*", ".*treespec, LeafSpec.*")


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """Within the block, those libraries log errors only and their known harmless warnings are
    hidden; logger levels and warning filters are restored afterwards."""
    loggers = [logging.getLogger(n) for n in NOISY_LOGGERS]
    levels = [lg.level for lg in loggers]
    hf = sys.modules.get("transformers")  # its "Writing model shards" bars, when a model is saved in the block
    bars = hf is not None and hf.utils.logging.is_progress_bar_enabled()
    if bars:
        hf.utils.logging.disable_progress_bar()
    with warnings.catch_warnings():
        for message in NOISY_WARNINGS:
            warnings.filterwarnings("ignore", message=message)
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels):
                lg.setLevel(level)
            if bars:
                hf.utils.logging.enable_progress_bar()
