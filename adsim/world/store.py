"""A world on disk: every table as Parquet plus `meta.json`, written last, so its presence marks
a complete world. `load_world` gives back identical objects, or one DataError."""

from __future__ import annotations

import shutil
import typing
from pathlib import Path

from adsim.core.config import ExperimentConfig
from adsim.core.errors import ConfigError, DataError
from adsim.core.files import read_json, read_parquet, write_json, write_parquet
from adsim.core.runtime.memory import release_free_memory
from adsim.core.tables import from_frame, n_rows, to_frame
from adsim.core.validation import parse
from adsim.world.build import TABLES, World, WorldSpec

SCHEMA_VERSION = 1


def save_world(world: World, out: str | Path, config: ExperimentConfig) -> Path:
    """Write `world`, built from `config`, under `out`; meta.json records the whole config."""
    if WorldSpec.of(config) != world.spec:
        raise ValueError("save_world: the config does not describe this world (seed, [world] or [traffic] differ)")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        write_parquet(to_frame(getattr(world, name)), out / f"{name}.parquet")
    meta = {"schema_version": SCHEMA_VERSION, "seed": world.seed, "config_hash": config.hash(),
            "config": config.to_dict(), "sizes": world.sizes()}
    write_json(meta, out / "meta.json")
    return out


def load_world(path: str | Path) -> World:
    """Read a saved world, checking its schema version and table sizes."""
    path = Path(path)
    meta = read_json(path / "meta.json")
    if not isinstance(meta, dict) or meta.get("schema_version") != SCHEMA_VERSION:
        found = meta.get("schema_version") if isinstance(meta, dict) else None
        raise DataError(f"{path}: world schema version {found!r}, expected {SCHEMA_VERSION}")
    try:
        config = parse(ExperimentConfig, meta["config"])
    except (KeyError, ConfigError) as err:
        raise DataError(f"{path / 'meta.json'}: invalid config ({err})") from None
    hints = typing.get_type_hints(World)
    tables = {}
    for name in TABLES:
        table = from_frame(hints[name], read_parquet(path / f"{name}.parquet"))
        if n_rows(table) != meta["sizes"][name]:
            raise DataError(f"{path / (name + '.parquet')}: {n_rows(table)} rows, meta.json says {meta['sizes'][name]}")
        tables[name] = table
    return World(spec=WorldSpec.of(config), **tables)


def load_world_of(folder: str | Path, config: ExperimentConfig) -> World:
    """`load_world`, refused unless another process saved it from `config`'s world settings (ranks
    handed a world read it this way)."""
    world = load_world(folder)
    if world.spec != WorldSpec.of(config):  # the settings load_world read from meta.json
        raise DataError(f"{folder}: the saved world was built from other world settings")
    return world


def build_world_once(config: ExperimentConfig, run_dir: str | Path) -> World:
    """The config's world. Under torchrun rank 0 builds it (on every core) and the other ranks read
    it from `run_dir/world` rather than all building it at once on shared cores; the copy is removed
    once every rank holds the world."""
    from adsim.core.runtime import dist  # the world package needs no torch otherwise
    from adsim.world.build import build_world

    me = dist.ranks()
    world = build_world(config) if me.world == 1 else _built_by_rank0(config, Path(run_dir) / "world", me)
    release_free_memory()  # generation's scratch buffers
    return world


def _built_by_rank0(config: ExperimentConfig, folder: Path, me: "dist.Ranks") -> World:
    """Rank 0 builds and saves the world, the others read it; the copy is removed once all hold it."""
    from adsim.core.runtime import dist
    from adsim.world.build import build_world

    if me.main:
        world = build_world(config)
        shutil.rmtree(folder, ignore_errors=True)
        save_world(world, folder, config)  # meta.json, written last, marks it complete
    dist.barrier(me)
    if not me.main:
        world = load_world_of(folder, config)
    dist.barrier(me)
    if me.main:
        shutil.rmtree(folder, ignore_errors=True)
    return world
