"""The whole smoke A/B on the GPU reports what it reports on the CPU (marked `gpu`: skipped where
torch sees no GPU; see tests/stages for the FAISS GPU index and the CUDA ranker and relevance).

On the GPU every stage runs there (torch on CUDA, FAISS GPU where the build has it, Lightning's
gpu accelerator); what differs is float rounding in training and scoring, which moves a few
auctions, so arm metrics are compared to a few per cent rather than to the last digit.
"""

import json
import os
import subprocess
import sys

import pytest
import torch

from tests.support import ROOT, SMOKE

pytestmark = pytest.mark.gpu
TOLERANCE = 0.05
METRICS = ("ctr", "rpm", "clicks_per_request", "relevance_rate", "coverage")


def _ab(out, device: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "ADSIM_DEVICE"} | ({"ADSIM_DEVICE": device} if device else {})
    result = subprocess.run([sys.executable, "-m", "adsim.cli", "ab", "--config", str(SMOKE), "--out", str(out)],
                            capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((out / "report.json").read_text())


def test_smoke_ab_on_the_gpu_reports_what_the_cpu_reports(tmp_path):
    from adsim.core.runtime.device import dist_backend, torch_device
    assert torch_device().type == "cuda" and dist_backend() == "nccl"
    gpu, cpu = _ab(tmp_path / "gpu", None), _ab(tmp_path / "cpu", "cpu")
    for metric in METRICS:
        a, b = gpu["lift"][metric], cpu["lift"][metric]
        for side in ("control", "treatment"):
            assert abs(a[side] - b[side]) <= TOLERANCE * max(abs(b[side]), 1e-9), (metric, side, a[side], b[side])


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="two ranks on NCCL need two GPUs")
def test_smoke_ab_on_two_gpu_ranks_runs_on_nccl(tmp_path):
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    result = subprocess.run([torchrun, "--standalone", "--nproc-per-node", "2", "-m", "adsim.cli", "ab", "--config",
                             str(SMOKE), "--set", "engine.batch_size=256", "--out", str(tmp_path / "two")],
                            capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    one = _ab(tmp_path / "one", None)
    two = json.loads((tmp_path / "two" / "report.json").read_text())
    assert abs(two["lift"]["ctr"]["control"] - one["lift"]["ctr"]["control"]) <= TOLERANCE * one["lift"]["ctr"]["control"]
