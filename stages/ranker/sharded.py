"""The CTR ranker trained across torchrun ranks with TorchRec's DistributedModelParallel.

TorchRec's planner (`EmbeddingShardingPlanner` over a `Topology` of the ranks) places the id
tables: whole on one rank, split by rows or columns, or replicated where they are small. DMP
wraps the dense layers in DDP, and each rank trains on every world-th mini-batch. The tables
start from the one-process initialisation, copied into their shards, and learn with row-wise
Adagrad fused into the backward pass at the sparse learning rate. fbgemm's CPU kernels have no
Adam, so this differs from the one process, where AdamW updates the tables too. The dense
parameters use AdamW with CtrModel's groups. Afterwards every rank gathers the whole trained
network, so serving is unchanged. The loop is written out by hand: Lightning has no strategy
for DistributedModelParallel.
"""

from __future__ import annotations

import copy
import itertools
from typing import Callable, Iterable

import torch
import torch.distributed as tdist
from torch import nn
from torch.distributed._shard.sharded_tensor import ShardedTensor
from torch.distributed.optim import _apply_optimizer_in_backward
from torchrec.distributed import DistributedModelParallel
from torchrec.distributed.embedding import EmbeddingCollectionSharder
from torchrec.distributed.embeddingbag import EmbeddingBagCollectionSharder
from torchrec.distributed.planner import EmbeddingShardingPlanner, ParameterConstraints, Topology
from torchrec.distributed.types import ShardingPlan
from torchrec.optim import RowWiseAdagrad
from torchrec.optim.optimizers import in_backward_optimizer_filter

from adsim.core.config import RankerConfig
from adsim.core.runtime.dist import Ranks
from stages.ranker.arch import FAST_LR_MULTIPLIER, FAST_PARAMS, SPARSE_LR_MULTIPLIER, SPARSE_PARAMS, CtrRanker
from stages.ranker.features import RankerBatch

# On the CPU a data-parallel EmbeddingCollection returns pooled rows (TorchRec 1.8), so the
# sequence tables are always split.
SEQUENCE_TABLES = ("t_seq_item", "t_seq_leaf")
SEQUENCE_SHARDINGS = ["row_wise", "table_wise", "column_wise"]


def _shard_views(v: ShardedTensor):
    """(this rank's shard tensor, the index of the whole table it holds) for each local shard."""
    for sh in v.local_shards():
        yield sh.tensor, tuple(slice(o, o + n) for o, n in zip(sh.metadata.shard_offsets, sh.metadata.shard_sizes))


def shard_plan(net: CtrRanker, me: Ranks, device: torch.device) -> ShardingPlan:
    """The planner's placement of `net`'s tables over the ranks (rank 0 plans, every rank receives it)."""
    constraints = {t: ParameterConstraints(sharding_types=SEQUENCE_SHARDINGS) for t in SEQUENCE_TABLES}
    planner = EmbeddingShardingPlanner(topology=Topology(world_size=me.world, compute_device=device.type),
                                       constraints=constraints)
    return planner.collective_plan(net, _sharders(), tdist.GroupMember.WORLD)


def _sharders() -> list:
    return [EmbeddingBagCollectionSharder(), EmbeddingCollectionSharder()]


@torch.no_grad()
def _load_into(dmp: DistributedModelParallel, state: dict[str, torch.Tensor]) -> None:
    """Copy a whole-network state into the sharded model, each rank into its own shards."""
    for k, v in dmp.state_dict().items():
        if isinstance(v, ShardedTensor):
            for shard, idx in _shard_views(v):
                shard.copy_(state[k][idx])
        else:
            v.copy_(state[k])


@torch.no_grad()
def unsharded_state(dmp: DistributedModelParallel) -> dict[str, torch.Tensor]:
    """The whole trained network's state on every rank: each rank writes its shards into zeros and
    an all-reduce sums them (shards are disjoint, so the sum is the table). A collective."""
    out = {}
    for k, v in dmp.state_dict().items():
        if isinstance(v, ShardedTensor):
            full = torch.zeros(v.size(), dtype=v.dtype)
            for shard, idx in _shard_views(v):
                full[idx] = shard.detach().cpu()
            tdist.all_reduce(full)
            v = full
        out[k] = v.detach().cpu().clone()
    return out


def fit_sharded(net: CtrRanker, index_batches: Iterable[torch.Tensor], make_batch: Callable[[torch.Tensor], RankerBatch],
                cfg: RankerConfig, me: Ranks, device: torch.device) -> ShardingPlan:
    """Train `net` in place for `cfg.epochs` over the row-index batches `index_batches` (the same
    sequence on every rank), each rank building and stepping on every world-th one; a last round
    with fewer batches than ranks is dropped (every rank must take the same number of steps).
    Returns the plan the tables were sharded by."""
    start = {k: v.detach().clone() for k, v in net.state_dict().items()}
    work = copy.deepcopy(net)  # DMP replaces modules in place; `net` stays a plain module to serve
    sparse = [p for n, p in work.named_parameters() if n.startswith(SPARSE_PARAMS)]
    _apply_optimizer_in_backward(RowWiseAdagrad, sparse, {"lr": cfg.learning_rate * SPARSE_LR_MULTIPLIER})
    plan = shard_plan(work, me, device)
    dmp = DistributedModelParallel(work, device=device, plan=plan, sharders=_sharders())
    _load_into(dmp, start)  # DMP initialises shards afresh
    groups: dict[str, list] = {"fast": [], "dense": []}
    for name, p in in_backward_optimizer_filter(dmp.named_parameters()):
        groups["fast" if name.startswith(FAST_PARAMS) else "dense"].append(p)
    opt = torch.optim.AdamW([{"params": groups["dense"]},
                             {"params": groups["fast"], "lr": cfg.learning_rate * FAST_LR_MULTIPLIER, "weight_decay": 0.0}],
                            lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    dmp.train()
    for _ in range(cfg.epochs):
        rounds = iter(index_batches)
        while len(round_ := list(itertools.islice(rounds, me.world))) == me.world:
            b = make_batch(round_[me.rank]).to(device)
            opt.zero_grad()
            loss = nn.functional.binary_cross_entropy_with_logits(dmp(b, with_position=True), b.label)
            loss.backward()  # the tables step here (fused); DDP all-reduces the dense gradients
            opt.step()
    net.load_state_dict(unsharded_state(dmp))
    return plan
