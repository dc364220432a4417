"""Paths and helpers the tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "experiments" / "smoke.toml"


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """`adsim ARGS...` in a fresh interpreter, capturing its output."""
    return subprocess.run([sys.executable, "-m", "adsim.cli", *args], capture_output=True, text=True, cwd=cwd)


def one_line_error(result: subprocess.CompletedProcess, expected: str) -> bool:
    """True when a CLI run failed with exit status 2 and one stderr line containing `expected`, no traceback."""
    lines = result.stderr.strip().splitlines()
    return result.returncode == 2 and len(lines) == 1 and expected in lines[0] and "Traceback" not in result.stderr
