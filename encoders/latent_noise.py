"""`latent-noise`: a controlled-quality provider built from the world's true factors.

Items and queries are described by three factor groups, each projected into `dim` dimensions
with its own random matrix and its own noise level:
- visual: leaf, colour, pattern, style, brand mark (what an image shows), plus the taste dims
  the renderer makes visible;
- textual: leaf, colour, pattern, style, brand, price tier (what words say);
- taste: the item's taste vector (what only behaviour reveals).
A query carries only what it shows or says: text queries the textual factors of what their words
state, image queries the visual factors of the photographed product, multimodal both. Noise
is per item (fixed per seed) and per request, so lower noise means embeddings whose neighbours
are truly similar items. Variants can differ in profile (e.g. good visual, poor text).

It is the one provider that reads the whole World (true factors, intents, taste): projecting
the truth with controlled noise is its purpose. Every other provider receives the World's view.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from adsim.core.rng import box_muller, generator, uniform
from adsim.core.taxonomy import COLOURS, LEAVES, N_PRICE_TIERS, PATTERNS, STYLES
from adsim.core.vocab import Modality
from encoders.provider import normalise
from encoders.provider_args import LatentNoiseArgs

if TYPE_CHECKING:
    from adsim.world.build import World

N_BRAND_BUCKETS = 64
ITEM_CHUNK = 65536  # items embedded at a time: the one-hot factors of a million items would take 1.6 GB


def _onehot(values: np.ndarray, n: int) -> np.ndarray:
    """One-hot rows; -1 (unspecified) gives a zero row."""
    out = np.zeros((len(values), n), dtype=np.float32)
    ok = values >= 0
    out[np.flatnonzero(ok), values[ok].astype(np.int64)] = 1.0
    return out


def _attribute_factors(leaf, colour, pattern, style, brand, tier=None) -> np.ndarray:
    blocks = [_onehot(leaf, len(LEAVES)) * 1.5, _onehot(colour, len(COLOURS)), _onehot(pattern, len(PATTERNS)),
              _onehot(style, len(STYLES)), _onehot(np.where(brand >= 0, brand % N_BRAND_BUCKETS, -1), N_BRAND_BUCKETS) * 0.7]
    if tier is not None:
        blocks.append(_onehot(tier, N_PRICE_TIERS) * 0.5)
    return np.hstack(blocks)


def _n_factors(tier: bool) -> int:
    return len(LEAVES) + len(COLOURS) + len(PATTERNS) + len(STYLES) + N_BRAND_BUCKETS + (N_PRICE_TIERS if tier else 0)


class LatentNoiseProvider:
    """Embeddings = noisy random projections of true visual, textual and taste factors."""

    def __init__(self, world: "World", args: LatentNoiseArgs, name: str = "latent-noise"):
        self.args = args
        self.world = world
        self.name = name
        self.dim = self.args.dim
        a = self.args
        rng = generator(world.seed, "latent-noise-projection", a.stream, a.dim)
        scale = lambda k: 1.0 / np.sqrt(k)
        self.P_vis = rng.normal(0, scale(a.dim), (_n_factors(False), a.dim)).astype(np.float32)
        self.P_txt = rng.normal(0, scale(a.dim), (_n_factors(True), a.dim)).astype(np.float32)
        self.P_taste = rng.normal(0, scale(a.dim), (world.items.taste.shape[1], a.dim)).astype(np.float32)

    def _noisy(self, factors: np.ndarray, proj: np.ndarray, sigma: float, stream: str, ids: np.ndarray) -> np.ndarray:
        """Projected factors plus noise whose norm is `sigma` times the signal's, per row.

        The noise is a pure function of (seed, the provider's stream, the factor group, id, dim):
        batch-independent, and shared only by providers that name the same stream.
        """
        clean = factors @ proj
        if sigma == 0:
            return clean
        k = np.arange(proj.shape[1])[None]
        name = f"latent-noise-{self.args.stream}-{stream}-{self.dim}"
        u1 = uniform(self.world.seed, name, ids[:, None], k, 1)
        u2 = uniform(self.world.seed, name, ids[:, None], k, 2)
        noise = box_muller(u1, u2).astype(np.float32)
        rms = np.sqrt(np.mean(clean ** 2, axis=1, keepdims=True))
        return clean + sigma * rms * noise

    def item_embeddings(self) -> np.ndarray:
        """Every item's embedding, ITEM_CHUNK items at a time (each row depends on its item alone)."""
        n = len(self.world.items.item_id)
        out = np.empty((n, self.dim), dtype=np.float32)
        for start in range(0, n, ITEM_CHUNK):
            rows = np.arange(start, min(n, start + ITEM_CHUNK))
            out[rows] = self._item_chunk(rows)
        return out

    def _item_chunk(self, rows: np.ndarray) -> np.ndarray:
        a, items = self.args, self.world.items
        ids = items.item_id[rows].astype(np.int64)
        leaf, colour, pattern, style, brand = (items.leaf[rows], items.colour[rows], items.pattern[rows],
                                               items.style[rows], items.brand[rows])
        vis = self._noisy(_attribute_factors(leaf, colour, pattern, style, brand), self.P_vis, a.level("visual"), "item-vis", ids)
        txt = self._noisy(_attribute_factors(leaf, colour, pattern, style, brand, items.price_tier[rows]), self.P_txt,
                          a.level("text"), "item-txt", ids)
        taste = self._noisy(items.taste[rows], self.P_taste, a.level("taste"), "item-taste", ids)
        return normalise(normalise(vis) + normalise(txt) + a.taste_weight * normalise(taste))

    def query_embeddings(self, request_ids: np.ndarray) -> np.ndarray:
        a, req, items = self.args, self.world.requests, self.world.items
        request_ids = np.asarray(request_ids, dtype=np.int64)
        said = req.words
        mod = req.modality[request_ids]
        target = req.intent.target[request_ids]
        # Text: what the words state, nothing more. Image: what the photographed product shows.
        txt_f = _attribute_factors(said.leaf[request_ids], said.colour[request_ids], said.pattern[request_ids],
                                   said.style[request_ids], said.brand[request_ids], said.price_tier[request_ids])
        vis_f = _attribute_factors(items.leaf[target], items.colour[target], items.pattern[target],
                                   items.style[target], items.brand[target])
        txt = normalise(self._noisy(txt_f, self.P_txt, a.level("text"), "query-txt", request_ids))
        vis = normalise(self._noisy(vis_f, self.P_vis, a.level("visual"), "query-vis", request_ids))
        use_txt = (mod != Modality.IMAGE)[:, None]
        use_vis = (mod != Modality.TEXT)[:, None]
        return normalise(txt * use_txt + vis * use_vis)
