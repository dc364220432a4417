"""The ranker trained on two ranks with TorchRec's DistributedModelParallel (gloo on the CPU)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

TORCHRUN = Path(sys.executable).with_name("torchrun")


@pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun is not installed")
def test_sharded_ranker_learns_and_every_rank_ends_with_the_whole_network():
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    result = subprocess.run([str(TORCHRUN), "--standalone", "--nproc-per-node", "2", "-m", "tests.stages.ranker.sharded_ranker_run"],
                            capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["auc"] > 0.7                                      # it learnt, as one process does (tests/stages/ranker/test_ranker.py)
    assert out["checksum_sum"] == pytest.approx(2 * out["checksum"], rel=1e-12)  # both ranks hold the same weights
    assert out["plain"]                                          # plain tensors: the served network is unsharded
    placed = {tuple(r) for kind, r in out["plan"].values() if kind != "data_parallel"}
    assert {0, 1} <= {r for ranks in placed for r in ranks}     # the planner put tables on both ranks
