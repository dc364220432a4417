"""Shared fixtures: the smoke-sized world is built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from adsim.core.config import load_config
from adsim.world.build import build_world

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "experiments" / "smoke.toml"


@pytest.fixture(scope="session")
def smoke_config():
    return load_config(SMOKE)


@pytest.fixture(scope="session")
def smoke_world(smoke_config):
    return build_world(smoke_config)
