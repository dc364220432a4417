"""The memory estimate: close to what a built world takes, and a size that cannot fit is one line."""

import dataclasses
import sys

import numpy as np
import pytest

from adsim.core.config import load_config
from adsim.core.errors import ConfigError
from adsim.core.runtime.footprint import GIB, check_fits, experiment_footprint, world_footprint
from adsim.world.build import TABLES, build_world
from tests.support import SMOKE, one_line_error, run_cli

DEMO = SMOKE.parent / "demo.toml"


def _bytes(table) -> float:
    total = 0.0
    for f in dataclasses.fields(table):
        v = getattr(table, f.name)
        if dataclasses.is_dataclass(v):
            total += _bytes(v)
        elif v.dtype == object:
            total += v.nbytes + sum(sys.getsizeof(s) for s in v)
        else:
            total += v.nbytes
    return total


def test_world_estimate_is_within_a_third_of_the_built_worlds_size():
    cfg = load_config(DEMO, ["world.n_users=2000", "world.n_items=8000", "traffic.n_requests=6000"])
    world = build_world(cfg)
    measured = sum(_bytes(getattr(world, t)) for t in TABLES)
    estimate = sum(world_footprint(cfg.world, cfg.traffic).parts.values())
    assert 0.75 < estimate / measured < 1.33, (estimate, measured)


@pytest.mark.parametrize("override, setting", [
    ("world.n_users=2000000000", "world.n_users or world.seq_len"),
    ("world.n_items=2000000000", "world.n_items"),
    ("traffic.n_requests=2000000000", "traffic.n_requests"),
])
def test_a_world_too_big_for_the_machine_names_the_setting_to_lower(override, setting):
    cfg = load_config(SMOKE, [override])
    with pytest.raises(ConfigError, match=f"lower {setting} "):
        check_fits(world_footprint(cfg.world, cfg.traffic), "the world")
    with pytest.raises(ConfigError, match="GiB is available"):
        build_world(cfg)


def test_the_experiment_estimate_counts_the_serving_batch():
    cfg = load_config(SMOKE, ["engine.batch_size=50000000"])
    fp = experiment_footprint(cfg)
    assert fp.largest == "engine.batch_size"
    check_fits(fp, "x", available=fp.total)  # exactly enough is enough
    with pytest.raises(ConfigError, match="lower engine.batch_size"):
        check_fits(fp, "x", available=fp.total - 1)
    small = experiment_footprint(load_config(SMOKE))
    assert small.total < 1 * GIB and np.isfinite(small.total)


@pytest.mark.parametrize("command, override, setting", [
    ("world", "world.n_users=2000000000", "world.n_users or world.seq_len"),
    ("ab", "engine.batch_size=50000000", "engine.batch_size"),
])
def test_the_cli_refuses_a_size_that_cannot_fit_in_one_line(tmp_path, command, override, setting):
    result = run_cli(command, "--config", str(SMOKE), "--set", override, "--out", str(tmp_path / "out"))
    assert one_line_error(result, f"lower {setting}"), result.stderr
    assert not (tmp_path / "out").exists()
