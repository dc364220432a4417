"""What cameras see of the world: catalogue views of items and the photos shoppers take of the
product they want (image and multimodal queries).

The world renders them, because it knows what each shopper photographed; the ad system and the
encoders receive only pixels, through a `Camera`. Text-only queries get a blank image and
`has_photo` False.
"""

from __future__ import annotations

import numpy as np

from adsim.core.vocab import Modality
from adsim.world.catalog import Items
from adsim.world.render import item_images, query_photos


MEMO_BYTES = 512 * 2 ** 20  # rendered pixels kept for the next encoder that asks, per table that fits whole


class _Memo:
    """Pixels of one table (every item's view v, every request's photo) rendered once and kept, so
    each encoder of a sweep embeds them without rendering again; only when the whole table fits in
    `MEMO_BYTES` (memory stays bounded by that, not by the world)."""

    def __init__(self, n: int, size: int, render):
        self.images = np.zeros((n, size, size, 3), dtype=np.uint8)
        self.done = np.zeros(n, dtype=bool)
        self.render = render

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids)
        todo = np.unique(ids[~self.done[ids]])
        if len(todo):
            self.images[todo] = self.render(todo)
            self.done[todo] = True
        return self.images[ids]


class Camera:
    """Renders pixels on demand. It holds the rendering inputs (every item attribute, and the
    product behind each photo) privately and hands out only images."""

    def __init__(self, items: Items, seed: int, image_size: int, request_target: np.ndarray,
                 request_modality: np.ndarray, history_target: np.ndarray, history_modality: np.ndarray):
        self._items, self._seed = items, seed
        self._request = (request_target, request_modality)
        self._history = (history_target, history_modality)
        self.image_size = image_size
        self._memos: dict[object, _Memo | None] = {}

    def _memo(self, key: object, n: int, render) -> _Memo | None:
        if key not in self._memos:
            fits = n * self.image_size ** 2 * 3 <= MEMO_BYTES - sum(m.images.nbytes for m in self._memos.values() if m)
            self._memos[key] = _Memo(n, self.image_size, render) if fits else None
        return self._memos[key]

    def item_images(self, item_ids: np.ndarray, views: np.ndarray | int = 0) -> np.ndarray:
        """Catalogue views (N, S, S, 3) uint8 of `item_ids`; view 0 is the main image."""
        render = lambda ids, v=views: item_images(self._items, ids, v, self.image_size, self._seed)  # noqa: E731
        memo = self._memo(("item", int(views)), len(self._items.item_id), render) if np.ndim(views) == 0 else None
        return memo(item_ids) if memo else render(item_ids)

    def item_photos(self, item_ids: np.ndarray, keys: np.ndarray, seed: int, stream: str) -> np.ndarray:
        """Shopper-style photos of catalogue items, one per key (training augmentations)."""
        return query_photos(self._items, item_ids, keys, self.image_size, seed, stream=stream)

    def request_photos(self, request_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(photos (N, S, S, 3) uint8, has_photo (N,)) for requests."""
        target, modality = self._request
        render = lambda ids: self._photos(target[ids], np.asarray(ids), modality[ids], "photo")[0]  # noqa: E731
        memo = self._memo("request", len(target), render)
        ids = np.asarray(request_ids)
        return (memo(ids) if memo else render(ids)), modality[ids] != Modality.TEXT

    def history_photos(self, event_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(photos, has_photo) for past search sessions (the behaviour log used in post-training)."""
        target, modality = self._history
        return self._photos(target[event_ids], np.asarray(event_ids), modality[event_ids], "history-photo")

    def _photos(self, targets: np.ndarray, keys: np.ndarray, modality: np.ndarray, stream: str):
        size = self.image_size
        out = np.zeros((len(keys), size, size, 3), dtype=np.uint8)
        has = modality != Modality.TEXT
        if has.any():
            out[has] = query_photos(self._items, targets[has], keys[has], size, self._seed, stream=stream)
        return out, has
