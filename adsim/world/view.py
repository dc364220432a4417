"""What the ad system and its encoders may see of the world.

A `WorldView` holds the catalogue as listed, requests as they arrive (text typed, photo taken)
and past behaviour as logged, and a `Camera` that renders pixels; it leaves out the hidden
fields, `HIDDEN`: each request's and session's intent and target, and each item's taste and
quality. Embedding providers that learn or load embeddings receive a view, never the `World`
(`latent-noise`, which projects the true factors on purpose, is the one documented exception).
The view shares the world's arrays; it copies nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from adsim.world.photos import Camera

if TYPE_CHECKING:
    from adsim.world.build import World

HIDDEN = ("intent", "taste", "quality")
T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class ListedItems:
    """The catalogue as its listings show it: ids, category, declared attributes, price, bid, title."""

    item_id: np.ndarray
    advertiser_id: np.ndarray
    leaf: np.ndarray
    top: np.ndarray
    colour: np.ndarray
    pattern: np.ndarray
    style: np.ndarray
    brand: np.ndarray
    price_tier: np.ndarray
    price: np.ndarray
    n_views: np.ndarray
    listed_day: np.ndarray
    bid: np.ndarray
    title: np.ndarray


@dataclass(frozen=True, eq=False)
class IncomingRequests:
    """Requests as the ad system receives them: who asks, when, in which modality, with which words."""

    request_id: np.ndarray
    day: np.ndarray
    ts: np.ndarray
    user_id: np.ndarray
    modality: np.ndarray
    query_text: np.ndarray


@dataclass(frozen=True, eq=False)
class LoggedHistory:
    """Past search sessions as logged: the query, what was shown, what was clicked and bought."""

    event_id: np.ndarray
    user_id: np.ndarray
    ts: np.ndarray
    modality: np.ndarray
    query_text: np.ndarray
    item_id: np.ndarray
    purchased: np.ndarray
    shown: np.ndarray


@dataclass(frozen=True, eq=False)
class WorldView:
    """The world without its hidden fields (see the module docstring)."""

    seed: int
    image_size: int
    n_users: int
    items: ListedItems
    requests: IncomingRequests
    history: LoggedHistory
    camera: Camera
    # What encoders computed of this view for one model, shared with the next provider of the same
    # model (its Matryoshka sizes, its quantisations): full-size embeddings by model folder.
    encoded: dict = dataclasses.field(default_factory=dict)


def _public(cls: type[T], table: Any) -> T:
    return cls(**{f.name: getattr(table, f.name) for f in dataclasses.fields(cls)})


def view_of(world: "World") -> WorldView:
    """The view of `world` (shares its arrays)."""
    camera = Camera(world.items, world.seed, world.image_size, world.requests.intent.target,
                    world.requests.modality, world.history.intent.target, world.history.modality)
    return WorldView(seed=world.seed, image_size=world.image_size, n_users=len(world.users.user_id),
                     items=_public(ListedItems, world.items), requests=_public(IncomingRequests, world.requests),
                     history=_public(LoggedHistory, world.history), camera=camera)
