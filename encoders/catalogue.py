"""A team's own catalogue seen as the encoder's training code sees a world: titles, categories and
product images read from local files, so the MOON-style encoder trains on real products.

`CatalogueView` has the fields `encoders.training.train` and `encoders.nets.data` read of a `WorldView` (items,
image size, a camera, an empty history); its `FileCamera` loads an item's images from disk, resized
to the model's size, and makes a shopper-style photo of one by a seeded random crop, flip and
brightness change (the world's camera photographs the product anew; a real catalogue has only its
listing images). Items without a readable image get a grey one, counted in `missing_images`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from adsim.core.rng import hash_keys

GREY = 128


@functools.lru_cache(maxsize=65_536)
def _load(path: str, size: int) -> np.ndarray | None:
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB").resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)
    except (OSError, ValueError):
        return None


class FileCamera:
    """Images of catalogue items from files: `paths[i]` lists item i's image files."""

    def __init__(self, paths: list[list[str]], image_size: int):
        self.paths, self.size = paths, image_size
        self.missing_images = sum(1 for p in paths if not p or not Path(p[0]).is_file())

    def _image(self, item: int, view: int) -> np.ndarray:
        files = self.paths[item]
        img = _load(files[view % len(files)], self.size) if files else None
        return img if img is not None else np.full((self.size, self.size, 3), GREY, np.uint8)

    def item_images(self, item_ids: np.ndarray, views: np.ndarray | int = 0) -> np.ndarray:
        """uint8 (N, S, S, 3): each item's image number `views` (cycling over the files it has)."""
        views = np.broadcast_to(np.asarray(views), np.shape(item_ids))
        return np.stack([self._image(int(i), int(v)) for i, v in zip(item_ids, views)])

    def item_photos(self, item_ids: np.ndarray, keys: np.ndarray, seed: int, stream: str) -> np.ndarray:
        """A shopper-style photo per item: its first image, randomly cropped (60-100 % a side),
        maybe flipped, brighter or darker, each draw a function of (seed, stream, key)."""
        u = (hash_keys(seed, stream, np.asarray(keys)[:, None], np.arange(5)[None]) >> np.uint64(11)).astype(np.float64) / (1 << 53)
        out = []
        for item, (a, b, c, flip, light) in zip(item_ids, u):
            img = self._image(int(item), 0)
            side = int(self.size * (0.6 + 0.4 * a))
            x, y = int((self.size - side) * b), int((self.size - side) * c)
            crop = Image.fromarray(img[y:y + side, x:x + side]).resize((self.size, self.size), Image.Resampling.BILINEAR)
            arr = np.asarray(crop, dtype=np.float32)[:, ::-1] if flip < 0.5 else np.asarray(crop, dtype=np.float32)
            out.append(np.clip(arr * (0.8 + 0.4 * light), 0, 255).astype(np.uint8))
        return np.stack(out)


@dataclass(frozen=True)
class CatalogueItems:
    item_id: np.ndarray     # int32 0..n-1
    title: np.ndarray       # object (str)
    leaf: np.ndarray        # int32 category code
    listed_day: np.ndarray  # int16, all 0: every item is listed when training starts


@dataclass(frozen=True)
class NoHistory:
    """A catalogue has no logged queries: the encoder trains on its products alone (pretraining)."""

    query_text: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    event_id: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


@dataclass(frozen=True)
class CatalogueView:
    seed: int
    image_size: int
    items: CatalogueItems
    camera: FileCamera
    history: NoHistory = NoHistory()
    n_users: int = 0


def catalogue_view(titles: np.ndarray, categories: np.ndarray, image_paths: list[list[str]], image_size: int,
                   seed: int) -> CatalogueView:
    n = len(titles)
    items = CatalogueItems(item_id=np.arange(n, dtype=np.int32), title=np.asarray(titles, dtype=object),
                           leaf=np.asarray(categories, dtype=np.int32), listed_day=np.zeros(n, np.int16))
    return CatalogueView(seed=seed, image_size=image_size, items=items, camera=FileCamera(image_paths, image_size))
