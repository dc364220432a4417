"""Ranks under torchrun: which share of the work is this process's, and the sums across them.

`torchrun --nproc-per-node N -m adsim.cli ab ...` starts N processes; `init_from_env` joins them
into one torch.distributed group (gloo on the CPU, NCCL where serving runs on a GPU:
adsim.core.device chooses). Arms are spread over the ranks, each run whole by one (`Ranks.solo`);
a day that all ranks serve together (day 0, or an arm left alone) is sharded by batches, with the
per-user outcome arrays summed by an all-reduce. A single process is rank 0 of 1 and calls nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from adsim.core.device import dist_backend, torch_device


@dataclass(frozen=True)
class Ranks:
    rank: int
    world: int

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def solo(cls) -> "Ranks":
        """This process on its own: for work one rank does whole (an arm of its own), with no
        collectives."""
        return cls(0, 1)

    def mine(self, n_parts: int) -> range:
        """The parts 0..n_parts-1 this rank serves: every world-th one, from its rank."""
        return range(self.rank, n_parts, self.world)


def ranks() -> Ranks:
    """This process's rank and the number of ranks (0 of 1 outside torchrun)."""
    if dist.is_available() and dist.is_initialized():
        return Ranks(dist.get_rank(), dist.get_world_size())
    return Ranks(0, 1)


def init_from_env() -> Ranks:
    """Join the process group torchrun describes in the environment (WORLD_SIZE > 1), once."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group(backend=dist_backend())
    return ranks()


def close() -> None:
    """Leave the process group; every rank first waits for the others (a rank that tore its
    connections down while another still sent aborted it now and then)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def barrier(me: Ranks | None = None) -> None:
    """Wait for every rank (of `me`, by default all of torchrun's)."""
    if (me or ranks()).world > 1:
        dist.barrier()


def all_sum(values: np.ndarray, me: Ranks | None = None) -> np.ndarray:
    """The element-wise sum of `values` over every rank of `me` (float64), the same array on each."""
    if (me or ranks()).world == 1:
        return values
    t = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float64))
    if dist_backend() == "nccl":
        t = t.to(torch_device())
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.cpu().numpy()


def shared_dir(path: str) -> str:
    """Rank 0's `path`, the same folder for every rank (a temporary folder each rank made for itself)."""
    if ranks().world == 1:
        return path
    out = [path]
    dist.broadcast_object_list(out, src=0)
    return out[0]
