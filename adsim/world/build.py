"""The synthetic world: catalogue, users, past behaviour and requests, from one seed.

`build_world(config)` is a deterministic function of the settings that shape the world (seed,
`[world]`, `[traffic]`); `World.view()` is what the ad system's encoders may see of it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from adsim.core.config import ClickConfig, ExperimentConfig, TrafficConfig, WorldConfig
from adsim.core.runtime.footprint import check_fits, world_footprint
from adsim.core.tables import n_rows, tables_equal
from adsim.world.behaviour import Requests, make_requests
from adsim.world.catalog import Advertisers, Brands, Items, make_advertisers, make_brands, make_items, size_budgets
from adsim.world.history import History, make_history
from adsim.world.users import Users, make_users
from adsim.world.view import WorldView, view_of

TABLES = ("brands", "advertisers", "items", "users", "history", "requests")


@dataclass(frozen=True)
class WorldSpec:
    """Every setting that shapes the world, and nothing else (the click model shapes past behaviour)."""

    seed: int
    world: WorldConfig
    traffic: TrafficConfig
    clicks: ClickConfig
    replicate: int = 0  # re-draws the requests (and the clicks on them), not the population

    @classmethod
    def of(cls, config: ExperimentConfig) -> "WorldSpec":
        return cls(seed=config.seed, world=config.world, traffic=config.traffic, clicks=config.clicks,
                   replicate=config.replicate)


@dataclass(eq=False)
class World:
    spec: WorldSpec
    brands: Brands
    advertisers: Advertisers
    items: Items
    users: Users
    history: History
    requests: Requests

    @property
    def seed(self) -> int:
        return self.spec.seed

    @property
    def image_size(self) -> int:
        return self.spec.world.image_size

    @functools.cached_property
    def view(self) -> WorldView:
        """What the ad system's encoders may see: the world without its hidden fields."""
        return view_of(self)

    def equals(self, other: "World") -> bool:
        return self.spec == other.spec and all(tables_equal(getattr(self, t), getattr(other, t)) for t in TABLES)

    def sizes(self) -> dict[str, int]:
        return {t: n_rows(getattr(self, t)) for t in TABLES}


def build_world(config: ExperimentConfig | WorldSpec) -> World:
    """Every table of the world, a pure function of the seed and the world and traffic settings."""
    spec = config if isinstance(config, WorldSpec) else WorldSpec.of(config)
    check_fits(world_footprint(spec.world, spec.traffic), "the world")
    w, seed = spec.world, spec.seed
    brands = make_brands(w, seed)
    advertisers = make_advertisers(w, seed)
    items = make_items(w, seed, brands, advertisers, spec.traffic.n_days)
    advertisers = size_budgets(w, seed, advertisers, items, spec.traffic.n_requests)
    users = make_users(w, seed)
    history = make_history(spec, users, items, brands.name)
    requests = make_requests(w, spec.traffic, seed, users, items, brands.name, spec.replicate)
    return World(spec=spec, brands=brands, advertisers=advertisers, items=items, users=users,
                 history=history, requests=requests)
