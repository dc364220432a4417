"""A PNG contact sheet of rendered products: catalogue views and shoppers' photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from adsim.core.files import atomic_path
from adsim.world.build import World
from adsim.world.render import item_images, query_photos

GAP = 2


def tile(images: np.ndarray, cols: int) -> np.ndarray:
    """Arrange (N, S, S, 3) images row-major on a white sheet."""
    n, s = images.shape[:2]
    rows = -(-n // cols)
    sheet = np.full((rows * (s + GAP) - GAP, cols * (s + GAP) - GAP, 3), 255, dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        sheet[r * (s + GAP): r * (s + GAP) + s, c * (s + GAP): c * (s + GAP) + s] = images[i]
    return sheet


def contact_sheet(world: World, n_items: int, size: int) -> np.ndarray:
    """One column per item: its catalogue views 0-3, then two shoppers' photos of it."""
    ids = np.arange(min(n_items, len(world.items.item_id)))
    rows = [item_images(world.items, ids, v, size, world.seed) for v in range(4)]
    rows += [query_photos(world.items, ids, ids + k * len(ids), size, world.seed, stream="gallery") for k in range(2)]
    return tile(np.concatenate(rows), cols=len(ids))


def save_contact_sheet(world: World, out: str | Path, n_items: int = 12, size: int = 64) -> Path:
    out = Path(out)
    with atomic_path(out) as tmp:
        Image.fromarray(contact_sheet(world, n_items, size)).save(tmp, format="PNG")
    return out
