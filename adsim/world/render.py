"""Procedural product images and user photos, rendered on demand (nothing is stored).

An item's attributes are visible: leaf -> silhouette (a union of superellipses), colour -> fill,
pattern -> texture, brand -> a 3x3 bit mark on the body, style -> proportions, corner shape and
outline; taste shifts saturation, proportions and texture frequency slightly. A view is a
pure function of (seed, item, view): view 0 is the catalogue shot, others change angle, zoom,
background and lighting. A user photo (image query) adds crop, rotation, clutter, blur and noise.

Everything is vectorised over the batch; images are uint8 (N, S, S, 3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from adsim.core.rng import uniform
from adsim.core.taxonomy import COLOUR_RGB, SILHOUETTES, STYLE_SHAPE
from adsim.world.catalog import Items

CHUNK = 1024
N_CLUTTER = 3
MARK_CELL = 0.11  # object units per brand-mark cell
OBJECT_ZOOM = 1.3  # object units -> frame units at scale 1


@dataclass(frozen=True)
class ViewParams:
    """Per-image camera, scene and degradation parameters, each an array of length N."""

    angle: np.ndarray
    scale: np.ndarray
    shift: np.ndarray       # (N, 2)
    flip: np.ndarray        # +1 or -1
    background: np.ndarray  # (N, 3)
    bg_gradient: np.ndarray  # (N, 3), vertical
    light: np.ndarray
    light_gradient: np.ndarray
    light_dir: np.ndarray
    clutter: np.ndarray     # bool: distractor shapes behind the product
    blur: np.ndarray        # 0, 1 or 2 passes of a 3x3 box blur
    noise: np.ndarray       # amplitude of per-pixel noise
    key: np.ndarray         # uint64 key for clutter and noise draws

    def take(self, rows: slice) -> "ViewParams":
        return ViewParams(**{k: v[rows] for k, v in self.__dict__.items()})


def _draws(seed: int, stream: str, keys: tuple, n_params: int) -> np.ndarray:
    return np.stack([uniform(seed, stream, *keys, k) for k in range(n_params)], axis=-1).astype(np.float32)


def product_views(seed: int, item_ids: np.ndarray, view_ids: np.ndarray) -> ViewParams:
    """Catalogue images: view 0 is the clean studio shot, later views vary camera and scene."""
    item_ids, view_ids = np.broadcast_arrays(np.asarray(item_ids), np.asarray(view_ids))
    u = _draws(seed, "product-view", (item_ids, view_ids), 14)
    alt = (view_ids > 0).astype(np.float32)
    n = len(item_ids)
    return ViewParams(
        angle=alt * (u[:, 0] - 0.5) * 0.6, scale=1.0 + alt * (u[:, 1] * 0.3 - 0.2),
        shift=alt[:, None] * (u[:, 2:4] - 0.5) * 0.24, flip=np.where(alt * u[:, 4] > 0.5, -1.0, 1.0).astype(np.float32),
        background=np.where(alt[:, None] > 0, 0.75 + 0.25 * u[:, 5:8], 0.93).astype(np.float32),
        bg_gradient=alt[:, None] * (u[:, 8:11] - 0.5) * 0.16, light=1.0 + alt * (u[:, 11] * 0.25 - 0.15),
        light_gradient=alt * (u[:, 12] - 0.5) * 0.24, light_dir=u[:, 13] * 2 * np.pi,
        clutter=np.zeros(n, dtype=bool), blur=np.zeros(n, dtype=np.int8), noise=alt * 0.01,
        key=item_ids.astype(np.uint64) * np.uint64(8) + view_ids.astype(np.uint64))


def photo_views(seed: int, keys: np.ndarray, stream: str = "photo") -> ViewParams:
    """A shopper's photo of a product: rotated, cropped, cluttered, badly lit, blurred, noisy."""
    keys = np.asarray(keys)
    u = _draws(seed, stream, (keys,), 16)
    return ViewParams(
        angle=(u[:, 0] - 0.5) * 1.2, scale=0.85 + 0.6 * u[:, 1], shift=(u[:, 2:4] - 0.5) * 0.5,
        flip=np.where(u[:, 4] > 0.5, -1.0, 1.0).astype(np.float32), background=0.2 + 0.7 * u[:, 5:8],
        bg_gradient=(u[:, 8:11] - 0.5) * 0.4, light=0.65 + 0.55 * u[:, 11], light_gradient=(u[:, 12] - 0.5) * 0.6,
        light_dir=u[:, 13] * 2 * np.pi, clutter=np.ones(len(keys), dtype=bool),
        blur=np.digitize(u[:, 14], [0.4, 0.8]).astype(np.int8), noise=0.03 + 0.04 * u[:, 15],
        key=keys.astype(np.uint64) + np.uint64(1 << 40))


@dataclass(frozen=True)
class Looks:
    """The visible attributes of N products."""

    leaf: np.ndarray
    colour: np.ndarray
    pattern: np.ndarray
    style: np.ndarray
    brand: np.ndarray
    taste: np.ndarray  # (N, d); dims 0-3 modulate saturation, width, texture frequency, brightness

    @classmethod
    def of(cls, items: Items, item_ids: np.ndarray) -> "Looks":
        return cls(leaf=items.leaf[item_ids], colour=items.colour[item_ids], pattern=items.pattern[item_ids],
                   style=items.style[item_ids], brand=items.brand[item_ids], taste=items.taste[item_ids])

    def take(self, rows: slice) -> "Looks":
        return Looks(**{k: v[rows] for k, v in self.__dict__.items()})


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    c = ((np.arange(size, dtype=np.float32) + 0.5) / size) * 2 - 1
    return np.meshgrid(c, c)  # x right, y down


def _col(a: np.ndarray) -> np.ndarray:
    return a[:, None, None]


def _pattern(pattern: np.ndarray, u: np.ndarray, v: np.ndarray, freq: np.ndarray) -> np.ndarray:
    """Texture mix in [0, 1] per pixel, by pattern id (one vectorised pass per pattern)."""
    out = np.zeros_like(u)
    two_pi = np.float32(2 * np.pi)
    for p in np.unique(pattern):
        rows = np.flatnonzero(pattern == p)
        uu, vv, f = u[rows], v[rows], _col(freq[rows])
        if p == 1:    # striped
            m = np.clip(np.sin(two_pi * f * vv) * 2, -1, 1) * 0.5 + 0.5
        elif p == 2:  # pinstripe
            m = (np.cos(two_pi * f * 1.3 * uu) > 0.7).astype(np.float32)
        elif p == 3:  # plaid
            m = 0.5 * ((np.sin(two_pi * f * uu) > 0).astype(np.float32) + (np.sin(two_pi * f * vv) > 0))
        elif p == 4:  # polka dot
            fu, fv = (uu * f) % 1 - 0.5, (vv * f) % 1 - 0.5
            m = (fu * fu + fv * fv < 0.09).astype(np.float32)
        elif p == 5:  # diagonal
            m = (np.sin(two_pi * f * (uu + vv) * 0.7071) > 0).astype(np.float32)
        elif p == 6:  # gradient
            m = np.clip((vv + 0.6) / 1.2, 0, 1)
        elif p == 7:  # knit: a cell texture from a fixed hash of cell coordinates
            cu, cv = np.floor(uu * f * 2.5), np.floor(vv * f * 2.5)
            m = ((np.sin(cu * 12.9898 + cv * 78.233) * 43758.5453) % 1 > 0.5).astype(np.float32)
        elif p == 8:  # zigzag
            tri = np.abs((uu * f) % 1 - 0.5) * 2
            m = (np.sin(two_pi * f * (vv + 0.3 * tri)) > 0).astype(np.float32)
        else:         # solid
            m = np.zeros_like(uu)
        out[rows] = m
    return out


def _box_blur(img: np.ndarray) -> np.ndarray:
    p = np.pad(img, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    s = img.shape[1]
    return sum(p[:, i:i + s, j:j + s] for i in range(3) for j in range(3)) / 9.0


def _object_coords(looks: Looks, view: ViewParams, X: np.ndarray, Y: np.ndarray):
    """Pixel -> object coordinates (the inverse camera transform, then the style's proportions):
    (u, v) (N, S, S), the zoom (N, 1, 1) and the style's shape rows (N, 4)."""
    zoom = _col(view.scale * OBJECT_ZOOM)
    xo = (X - _col(view.shift[:, 0])) / zoom
    yo = (Y - _col(view.shift[:, 1])) / zoom
    ca, sa = _col(np.cos(view.angle)), _col(np.sin(view.angle))
    u = (ca * xo + sa * yo) * _col(view.flip)
    v = -sa * xo + ca * yo
    shape = STYLE_SHAPE[looks.style]
    u = u / _col(shape[:, 0] * (1 + 0.08 * np.tanh(2 * looks.taste[:, 1])))
    v = v / _col(shape[:, 1])
    return u, v, zoom, shape


def _silhouette_distance(leaf: np.ndarray, u: np.ndarray, v: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """Signed distance estimate to the leaf's silhouette, a union (min) of superellipses, in object units."""
    dist = np.full(u.shape, np.inf, dtype=np.float32)
    sil = SILHOUETTES
    for j in range(sil.active.shape[1]):
        act = sil.active[leaf, j]
        if not act.any():
            continue
        w, h = _col(np.where(act, sil.half_w[leaf, j], 1.0)), _col(np.where(act, sil.half_h[leaf, j], 1.0))
        e = _col(np.where(act, sil.exponent[leaf, j], 2.0) * shape[:, 2])
        du, dv = u - _col(sil.cx[leaf, j]), v - _col(sil.cy[leaf, j])
        c, s = _col(np.cos(sil.angle[leaf, j])), _col(np.sin(sil.angle[leaf, j]))
        pu, pv = np.abs(c * du + s * dv) / w, np.abs(-s * du + c * dv) / h
        r = (pu ** e + pv ** e) ** (1 / e)
        d = (r - 1) * np.minimum(w, h)
        dist = np.where(_col(act), np.minimum(dist, d), dist)
    return dist


def _body(looks: Looks, u: np.ndarray, v: np.ndarray, mask: np.ndarray, outline: np.ndarray) -> np.ndarray:
    """The product's surface (N, S, S, 3): colour fill, pattern texture, outline and brand mark."""
    taste = looks.taste
    fill = COLOUR_RGB[looks.colour]
    grey = fill.mean(axis=1, keepdims=True)
    fill = grey + (fill - grey) * (1 + 0.25 * np.tanh(2 * taste[:, :1]))
    fill = np.clip(fill * (1 + 0.1 * np.tanh(2 * taste[:, 3:4])), 0, 1)
    lum = fill @ np.array([0.3, 0.59, 0.11], dtype=np.float32)
    second = np.where(lum[:, None] > 0.5, fill * 0.35, fill * 0.35 + 0.65)
    freq = 3.0 * (1 + 0.25 * np.tanh(2 * taste[:, 2]))
    m = _pattern(looks.pattern, u, v, freq)[..., None]
    body = fill[:, None, None] * (1 - m) + second[:, None, None] * m
    body = np.where(outline, fill[:, None, None] * 0.3, body)

    cx0, cy0 = _col(SILHOUETTES.cx[looks.leaf, 0]), _col(SILHOUETTES.cy[looks.leaf, 0])
    ci = np.floor((u - cx0) / MARK_CELL + 1.5)
    cj = np.floor((v - cy0) / MARK_CELL + 1.5)
    in_mark = (ci >= 0) & (ci < 3) & (cj >= 0) & (cj < 3) & (mask[..., 0] > 0.5)
    code = _col((looks.brand.astype(np.int64) % 511) + 1)
    bit = (code >> np.clip(cj * 3 + ci, 0, 8).astype(np.int64)) & 1
    mark = np.where(bit[..., None] == 1, 0.05, 0.95).astype(np.float32)
    return np.where(in_mark[..., None], mark, body)


def _scene(view: ViewParams, X: np.ndarray, Y: np.ndarray, body: np.ndarray, mask: np.ndarray, size: int,
           seed: int) -> np.ndarray:
    """Background, optional clutter, the product, lighting, blur and noise: uint8 (N, S, S, 3)."""
    n = len(view.angle)
    bg = view.background[:, None, None] + view.bg_gradient[:, None, None] * Y[..., None]
    if view.clutter.any():
        for k in range(N_CLUTTER):
            cu = _draws(seed, "clutter", (view.key, k), 6)
            cm = (((X - _col(cu[:, 0] * 2 - 1)) / _col(0.1 + 0.25 * cu[:, 1])) ** 2
                  + ((Y - _col(cu[:, 2] * 2 - 1)) / _col(0.1 + 0.25 * cu[:, 3])) ** 2 < 1)
            cm &= _col(view.clutter)
            colour = np.stack([cu[:, 4], cu[:, 5], 1 - cu[:, 4]], axis=1)
            bg = np.where(cm[..., None], colour[:, None, None], bg)
    img = bg * (1 - mask) + body * mask
    shade = _col(view.light) + _col(view.light_gradient) * (X * _col(np.cos(view.light_dir)) + Y * _col(np.sin(view.light_dir)))
    img = img * shade[..., None]
    if view.blur.any():
        once = _box_blur(img)
        twice = _box_blur(once)
        b = view.blur[:, None, None, None]
        img = np.where(b == 0, img, np.where(b == 1, once, twice))
    if view.noise.any():
        flat = np.arange(size * size * 3, dtype=np.uint64)[None]
        noise = uniform(seed, "pixel-noise", view.key[:, None], flat).astype(np.float32) - 0.5
        img = img + (_col(view.noise)[..., None] * 3.46) * noise.reshape(n, size, size, 3)
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def _render_chunk(looks: Looks, view: ViewParams, size: int, seed: int) -> np.ndarray:
    X, Y = _grid(size)
    X, Y = X[None], Y[None]
    u, v, zoom, shape = _object_coords(looks, view, X, Y)
    pix = _silhouette_distance(looks.leaf, u, v, shape) * (zoom * size / 2)  # in pixels
    mask = np.clip(0.5 - pix, 0, 1)[..., None]
    outline = ((pix > -np.maximum(_col(shape[:, 3]) * (zoom * size / 2), 0.8)) & (pix <= 0.5))[..., None]
    return _scene(view, X, Y, _body(looks, u, v, mask, outline), mask, size, seed)


def render(looks: Looks, view: ViewParams, size: int, seed: int) -> np.ndarray:
    """uint8 images (N, size, size, 3) of products with the given looks from the given views."""
    n = len(looks.leaf)
    out = np.empty((n, size, size, 3), dtype=np.uint8)
    for start in range(0, n, CHUNK):
        rows = slice(start, start + CHUNK)
        out[rows] = _render_chunk(looks.take(rows), view.take(rows), size, seed)
    return out


def item_images(items: Items, item_ids: np.ndarray, view_ids: np.ndarray | int, size: int, seed: int) -> np.ndarray:
    """Catalogue images of `item_ids` (view 0 = main image); view ids wrap at each item's n_views."""
    item_ids = np.asarray(item_ids)
    views = np.broadcast_to(np.asarray(view_ids), item_ids.shape) % items.n_views[item_ids]
    return render(Looks.of(items, item_ids), product_views(seed, item_ids, views), size, seed)


def query_photos(items: Items, target_ids: np.ndarray, keys: np.ndarray, size: int, seed: int,
                 stream: str = "photo") -> np.ndarray:
    """Shoppers' photos of `target_ids` (an image query), one per key (request or event id)."""
    target_ids = np.asarray(target_ids)
    return render(Looks.of(items, target_ids), photo_views(seed, keys, stream), size, seed)
