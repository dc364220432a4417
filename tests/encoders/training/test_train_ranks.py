"""`adsim encoder train` under torchrun: Lightning's DDP over two ranks (gloo on the CPU)."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

from tests.support import ROOT, SMOKE, run_cli

TORCHRUN = Path(sys.executable).with_name("torchrun")
STEPS = ("--set", "encoder_train.pretrain_steps=6", "--set", "encoder_train.posttrain_steps=6", "--quiet")


@pytest.mark.slow
@pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun is not installed")
def test_encoder_trains_on_two_ranks_with_ddp(tmp_path):
    """Each rank draws its own batch of every step and DDP averages the gradients: the same number of
    steps as one process, weights that saw both ranks' batches (so they differ from one process's),
    and one rank writing the model, the embeddings and the report."""
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    two = subprocess.run([str(TORCHRUN), "--standalone", "--nproc-per-node", "2", "-m", "adsim.cli", "encoder", "train",
                          "--config", str(SMOKE), *STEPS, "--out", str(tmp_path / "two")],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)
    assert two.returncode == 0, two.stderr[-3000:]
    assert two.stdout.count("trained in") == 1
    assert run_cli("encoder", "train", "--config", str(SMOKE), *STEPS, "--out", str(tmp_path / "one")).returncode == 0
    with open(tmp_path / "two" / "logs" / "pretrain" / "version_0" / "metrics.csv") as f:
        assert max(int(r["step"]) for r in csv.DictReader(f)) == 5
    a, b = (load_file(tmp_path / d / "model" / "model.safetensors") for d in ("one", "two"))
    assert a.keys() == b.keys() and max(float((a[k] - b[k]).abs().max()) for k in a) > 1e-3
    assert (tmp_path / "two" / "report.json").exists() and (tmp_path / "two" / "item_embeddings.parquet").exists()
