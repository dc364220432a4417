"""The synthetic world: catalogue, users, past behaviour and requests, from one seed.

`build_world(config)` is a deterministic function of the config. `save_world` writes every table
as Parquet plus `meta.json` (written last, so its presence marks a complete world);
`load_world` gives back identical objects.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from pathlib import Path

from adsim.world.catalog import Advertisers, Brands, Items, make_advertisers, make_brands, make_items, size_budgets
from adsim.core.config import ExperimentConfig
from adsim.core.validation import parse
from adsim.core.errors import DataError
from adsim.core.files import read_json, read_parquet, write_json, write_parquet
from adsim.world.behaviour import History, Requests, make_history, make_requests
from adsim.core.tables import from_frame, n_rows, tables_equal, to_frame
from adsim.world.users import Users, make_users

SCHEMA_VERSION = 1
TABLES = ("brands", "advertisers", "items", "users", "history", "requests")


@dataclass(eq=False)
class World:
    config: ExperimentConfig
    brands: Brands
    advertisers: Advertisers
    items: Items
    users: Users
    history: History
    requests: Requests

    @property
    def seed(self) -> int:
        return self.config.seed

    def equals(self, other: "World") -> bool:
        return self.config == other.config and all(
            tables_equal(getattr(self, t), getattr(other, t)) for t in TABLES)

    def sizes(self) -> dict[str, int]:
        return {t: n_rows(getattr(self, t)) for t in TABLES}


def build_world(config: ExperimentConfig) -> World:
    """Every table of the world, a pure function of `config`."""
    w, seed = config.world, config.seed
    brands = make_brands(w, seed)
    advertisers = make_advertisers(w, seed)
    items = make_items(w, seed, brands, advertisers, config.traffic.n_days)
    advertisers = size_budgets(w, seed, advertisers, items, config.traffic.n_requests)
    users = make_users(w, seed)
    history = make_history(w, config.traffic, seed, users, items, brands.name)
    requests = make_requests(w, config.traffic, seed, users, items, brands.name)
    return World(config=config, brands=brands, advertisers=advertisers, items=items, users=users,
                 history=history, requests=requests)


def save_world(world: World, out: str | Path, elapsed_s: float | None = None) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        write_parquet(to_frame(getattr(world, name)), out / f"{name}.parquet")
    meta = {"schema_version": SCHEMA_VERSION, "seed": world.seed, "config_hash": world.config.hash(),
            "config": world.config.to_dict(), "sizes": world.sizes()}
    write_json(meta, out / "meta.json")
    return out


def load_world(path: str | Path) -> World:
    """Read a saved world, checking its schema version and table sizes."""
    path = Path(path)
    meta = read_json(path / "meta.json")
    if meta.get("schema_version") != SCHEMA_VERSION:
        raise DataError(f"{path}: world schema version {meta.get('schema_version')!r}, expected {SCHEMA_VERSION}")
    config = parse(ExperimentConfig, meta["config"])
    hints = typing.get_type_hints(World)
    tables = {}
    for name in TABLES:
        table = from_frame(hints[name], read_parquet(path / f"{name}.parquet"))
        if n_rows(table) != meta["sizes"][name]:
            raise DataError(f"{path / (name + '.parquet')}: {n_rows(table)} rows, meta.json says {meta['sizes'][name]}")
        tables[name] = table
    return World(config=config, **tables)

