"""The smoke A/B under `torchrun --nproc-per-node 2` (gloo) reports what one process reports.

Day 0 is served by both ranks, every other batch each; then each arm is trained and served whole
by one rank. When fewer arms are left to run than there are ranks (here: the treatment changed, the
control's outcome reused), both ranks serve that arm's days, every other batch each, and its
per-user sums are all-reduced (a slow test). What differs is float rounding (revenue summed in another order,
torch on one thread per rank): every number of report.json agrees to 1e-3 relative, and the logs
hold the same impressions.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from tests.support import ROOT, SMOKE, run_cli

TOLERANCE = 1e-3
# The smoke day's 1,500 requests in six batches, so both ranks serve (one batch would all be rank 0's).
SHARDED = ("--set", "engine.batch_size=256")


def _numbers(tree, path=""):
    if isinstance(tree, dict):
        for k, v in tree.items():
            if k != "timings":
                yield from _numbers(v, f"{path}/{k}")
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from _numbers(v, f"{path}[{i}]")
    elif isinstance(tree, (int, float)) and not isinstance(tree, bool):
        yield path, float(tree)


def _torchrun(*args: str) -> subprocess.CompletedProcess:
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    return subprocess.run([str(torchrun), "--standalone", "--nproc-per-node", "2", "-m", "adsim.cli", *args],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)


def _same_reports(one: Path, two: Path) -> None:
    a = dict(_numbers(json.loads((one / "report.json").read_text())))
    b = dict(_numbers(json.loads((two / "report.json").read_text())))
    assert a.keys() == b.keys() and len(a) > 500
    off = {k: (a[k], b[k]) for k in a if not (math.isnan(a[k]) and math.isnan(b[k]))
           and abs(a[k] - b[k]) > TOLERANCE * max(abs(a[k]), abs(b[k]), 1e-9)}
    assert not off, list(off.items())[:5]


@pytest.mark.skipif(not Path(sys.executable).with_name("torchrun").exists(), reason="torchrun is not installed")
def test_smoke_ab_on_two_ranks_reports_what_one_process_does(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    assert run_cli("ab", "--config", str(SMOKE), *SHARDED, "--out", str(one)).returncode == 0
    result = _torchrun("ab", "--config", str(SMOKE), *SHARDED, "--out", str(two))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("A/B finished") == 1  # one rank speaks
    assert "2 arm(s) over 2 ranks" in result.stdout
    _same_reports(one, two)
    logs = [pl.scan_parquet(d / "logs" / "impressions" / "**" / "*.parquet", hive_partitioning=True)
            .select("arm", "day", "request_id", "position", "item_id", "click").collect()
            .sort("arm", "day", "request_id", "position") for d in (one, two)]
    assert logs[0].height > 1000
    assert logs[0].equals(logs[1])


@pytest.mark.slow
@pytest.mark.skipif(not Path(sys.executable).with_name("torchrun").exists(), reason="torchrun is not installed")
def test_one_arm_left_to_run_is_served_by_both_ranks(tmp_path):
    """A rerun where only the treatment changed: both ranks serve it batch by batch and all-reduce
    its per-user sums (slow: four A/B runs)."""
    one, two = tmp_path / "one", tmp_path / "two"
    for out in (one, two):
        assert run_cli("ab", "--config", str(SMOKE), *SHARDED, "--out", str(out)).returncode == 0
    changed = ("--set", "arms.treatment.encoder_args.noise=0.6")
    assert run_cli("ab", "--config", str(SMOKE), *SHARDED, *changed, "--out", str(one)).returncode == 0
    result = _torchrun("ab", "--config", str(SMOKE), *SHARDED, *changed, "--out", str(two))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "reusing 1 finished arm" in result.stdout and "arm(s) over 2 ranks" not in result.stdout
    _same_reports(one, two)
