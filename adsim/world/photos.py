"""What shoppers upload with image and multimodal queries: photos of the product they want.

The world renders them (it knows what the user photographed); encoders receive only the pixels.
Text-only queries get a blank image and `has_photo` False.
"""

from __future__ import annotations

import numpy as np

from adsim.world.render import query_photos
from adsim.world.behaviour import TEXT
from adsim.world.build import World


def _photos(world: World, targets: np.ndarray, keys: np.ndarray, modality: np.ndarray, stream: str):
    size = world.config.world.image_size
    out = np.zeros((len(keys), size, size, 3), dtype=np.uint8)
    has = modality != TEXT
    if has.any():
        out[has] = query_photos(world.items, targets[has], keys[has], size, world.seed, stream=stream)
    return out, has


def request_photos(world: World, request_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(photos (N, S, S, 3) uint8, has_photo (N,)) for requests."""
    req = world.requests
    return _photos(world, req.intent.target[request_ids], req.request_id[request_ids], req.modality[request_ids], "photo")


def history_photos(world: World, event_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(photos, has_photo) for past search sessions (the behaviour log used in post-training)."""
    h = world.history
    return _photos(world, h.intent.target[event_ids], h.event_id[event_ids], h.modality[event_ids], "history-photo")
