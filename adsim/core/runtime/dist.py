"""Ranks under torchrun: which share of the work is this process's, and the sums across them.

`torchrun --nproc-per-node N -m adsim.cli ab ...` starts N processes; `init_from_env` joins them
into one torch.distributed group (gloo on the CPU, NCCL where serving runs on a GPU:
adsim.core.runtime.device chooses). Arms are spread over the ranks, each run whole by one (`Ranks.solo`);
a day that all ranks serve together (day 0, or an arm left alone) is sharded by batches, with the
per-user outcome arrays summed by an all-reduce. A single process is rank 0 of 1 and calls nothing.
`launch` starts such ranks from Python (`--workers`, `sweep.workers`) with torchrun's own launcher.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
import torch.distributed as dist

from adsim.core.runtime.device import dist_backend, torch_device
from adsim.core.errors import AdsimError, ConfigError


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


def check_can_launch() -> None:
    """`launch` starts ranks of its own, so it is refused on a rank torchrun started (where the
    ranks already share the work); callers check before any heavy work, `launch` again itself."""
    if ranks().world > 1:
        raise ConfigError("--workers / sweep.workers start ranks of their own; under torchrun the ranks already "
                          "share the work: leave it at 1")


def launch(n: int, fn: Callable[..., Any], *args: Any) -> Any:
    """`fn(*args)` on `n` fresh ranks of one process group, started by torch's elastic launcher
    (what `torchrun --standalone` runs), each on its share of the cores: rank 0's result. `fn`
    and `args` must pickle (spawned processes). An AdsimError on a rank is raised here, as itself."""
    from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch
    check_can_launch()
    with tempfile.TemporaryDirectory(prefix="adsim-ranks-") as logs:  # the agent's files, not left in /tmp
        config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=n, rdzv_backend="c10d",
                              rdzv_endpoint="localhost:0", run_id=f"adsim-{uuid.uuid4().hex}", max_restarts=0,
                              monitor_interval=0.5, logs_specs=DefaultLogsSpecs(log_dir=logs))
        results = elastic_launch(config, _on_rank)(n, fn, *args)
    for rank in sorted(results):
        if isinstance(results[rank], AdsimError):
            raise results[rank]
    return results[0]


def _on_rank(n: int, fn: Callable[..., Any], *args: Any) -> Any:
    """One launched rank: its share of the cores, the group joined and left around `fn`; an
    AdsimError comes back as the rank's result (a child's traceback would bury its one line)."""
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // n))
    init_from_env()
    try:
        return fn(*args)
    except AdsimError as err:
        return err
    finally:
        close()
