"""Shared fixtures: the smoke-sized config and world are built once per test session."""

from __future__ import annotations

import pytest

from adsim.core.config import load_config
from adsim.world.build import build_world
from tests.support import SMOKE


@pytest.fixture(scope="session")
def smoke_config():
    return load_config(SMOKE)


@pytest.fixture(scope="session")
def smoke_world(smoke_config):
    return build_world(smoke_config)
