"""Private random streams for torch, instead of reseeding its global generator.

Module initialisation and dropout draw from torch's global generator. A `TorchStream` runs a block
of code on its own stream: on entry it swaps its saved state in (CPU, and the current GPU where one
is used), on exit it saves where the block stopped and restores the caller's state. So a model
initialised in one block and trained in a later one draws exactly the numbers a single
`torch.manual_seed(seed)` before both would have drawn, while code outside never sees its seed.
"""

from __future__ import annotations

import torch


def _cuda_devices() -> list[int]:
    return [torch.cuda.current_device()] if torch.cuda.is_available() else []


class TorchStream:
    """A seeded stream of torch's global generator; use as `with stream: ...` (re-entrant in sequence)."""

    def __init__(self, seed: int):
        with torch.random.fork_rng(devices=_cuda_devices()):
            torch.manual_seed(seed)
            self._cpu = torch.get_rng_state()
            self._cuda = torch.cuda.get_rng_state() if torch.cuda.is_available() else None
        self._fork = None

    def __enter__(self) -> "TorchStream":
        if self._fork is not None:
            raise RuntimeError("TorchStream is already active")
        self._fork = torch.random.fork_rng(devices=_cuda_devices())
        self._fork.__enter__()
        torch.set_rng_state(self._cpu)
        if self._cuda is not None:
            torch.cuda.set_rng_state(self._cuda)
        return self

    def __exit__(self, *exc) -> None:
        self._cpu = torch.get_rng_state()
        if self._cuda is not None:
            self._cuda = torch.cuda.get_rng_state()
        fork, self._fork = self._fork, None
        fork.__exit__(*exc)
