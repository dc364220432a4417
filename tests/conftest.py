"""Shared fixtures: the smoke-sized config and world are built once per test session."""

from __future__ import annotations

import pytest

from adsim.core.config import load_config
from adsim.world.build import build_world
from tests.support import SMOKE


def pytest_collection_modifyitems(config, items):
    """Tests marked `gpu` skip, with one reason, where torch sees no GPU."""
    import torch
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="no GPU here: tests marked gpu run where torch sees CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def smoke_config():
    return load_config(SMOKE)


@pytest.fixture(scope="session")
def smoke_world(smoke_config):
    return build_world(smoke_config)
