"""Ctrl-C at three phases of a real `adsim ab` run on the smoke world: each exits 130 with one line
on stderr and no traceback, and leaves no half-written file (no temporary file left behind, every
JSON strict and every Parquet file readable)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

import polars as pl
import pytest

from tests.support import ROOT, SMOKE

# (phase, the output line after which Ctrl-C is sent, the delay after it in s, a line the run must
#  not have reached: the interrupt landed in the phase named)
PHASES = [
    ("while the world is built or day 0 served", "world: building", 0.5, "day 0: bootstrap served"),
    ("while the control arm's models train", "day 0: bootstrap served", 0.5, "control: trained"),
    ("just after an arm's models are trained", "control: trained relevance", 0.0, "treatment: trained"),
]
DEADLINE = 120  # seconds a run may take to reach its marker, and then to stop


def interrupt_run(out, marker: str, delay: float, stderr_file) -> tuple[subprocess.CompletedProcess, bool]:
    """Start `adsim ab` on the smoke config, send SIGINT `delay` seconds after `marker` is printed,
    and return what it printed and whether it was still running then. stdout is read on a thread
    (a stuck run fails at the deadline instead of hanging) and stderr goes to a file (no pipe fills)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "adsim.cli", "ab", "--config", str(SMOKE), "--out", str(out)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=stderr_file, text=True)
    lines: queue.Queue = queue.Queue()

    def read() -> None:  # every stdout line, then None at its end
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    seen, start = [], time.monotonic()
    while not seen or (seen[-1] is not None and marker not in seen[-1]):
        seen.append(lines.get(timeout=max(1.0, DEADLINE - (time.monotonic() - start))))
    time.sleep(delay)
    reached = proc.poll() is None
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=DEADLINE)
    while seen[-1] is not None:
        seen.append(lines.get(timeout=DEADLINE))
    stderr_file.seek(0)
    stdout = "".join(s for s in seen if s is not None)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr_file.read()), reached


def _not_strict(constant: str):
    raise ValueError(f"{constant} is not strict JSON")


def half_written(out) -> list[str]:
    """Files under `out` that an interrupted run should never leave: temporaries, or files that do not read back."""
    bad = []
    for path in out.rglob("*") if out.exists() else ():
        if not path.is_file():
            continue
        if path.name.endswith(".tmp"):
            bad.append(f"{path}: temporary file left behind")
        elif path.suffix == ".json":
            try:
                json.loads(path.read_text(), parse_constant=_not_strict)
            except ValueError as e:
                bad.append(f"{path}: {e}")
        elif path.suffix == ".parquet":
            try:
                pl.read_parquet(path)
            except Exception as e:  # noqa: BLE001 - any failure to read back is the defect
                bad.append(f"{path}: {e}")
    return bad


@pytest.mark.parametrize("phase, marker, delay, not_reached", PHASES, ids=[p[0] for p in PHASES])
def test_ctrl_c_exits_130_in_one_line_leaving_nothing_half_written(tmp_path, phase, marker, delay, not_reached):
    with open(tmp_path / "stderr.txt", "w+") as stderr_file:
        result, reached = interrupt_run(tmp_path / "run", marker, delay, stderr_file)
    assert reached and not_reached not in result.stdout, f"Ctrl-C did not land {phase}:\n{result.stdout}"
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 130 and lines == ["adsim: interrupted"], (result.returncode, result.stderr)
    assert not half_written(tmp_path / "run")
