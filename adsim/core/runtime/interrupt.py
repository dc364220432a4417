"""Ctrl-C through Lightning: one KeyboardInterrupt, never swallowed.

Lightning catches KeyboardInterrupt inside `Trainer.fit`, ignores SIGINT from then on and calls
`sys.exit(1)`; and an interrupt that lands while a finished trainer's objects are collected is
"ignored in __del__". `fit_lightning` turns the first into a KeyboardInterrupt (with the handler
restored), and frees the trainer with interrupts held back, raising a held one afterwards, so the
command line exits 130 with one line in every phase (adsim.cli).
"""

from __future__ import annotations

import contextlib
import gc
import signal
import threading
from typing import Any, Iterator


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Hold Ctrl-C back for the block; raise it when the block ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda *_: got.append(1))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if got:
        raise KeyboardInterrupt


def fit_lightning(trainer: Any, module: Any, *args: Any, **kwargs: Any) -> None:
    """`trainer.fit(module, ...)`; a Ctrl-C during it raises KeyboardInterrupt, and the trainer is
    released (profiler, loggers, the module's reference to it) before this returns."""
    try:
        trainer.fit(module, *args, **kwargs)
    except SystemExit:
        if getattr(trainer, "interrupted", False):
            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt from None
        raise
    with deferred_interrupt():
        module.trainer = None
        del trainer
        gc.collect()
