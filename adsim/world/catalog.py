"""The ad catalogue: brands, advertisers, and items (every item is an ad with a CPC bid)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from adsim.core.config import WorldConfig
from adsim.core.rng import categorical, generator
from adsim.core.taxonomy import (
    COLOURS,
    LEAF_TOP,
    LEAVES,
    N_PRICE_TIERS,
    PATTERNS,
    STYLES,
    TOP_CATEGORIES,
    brand_names,
)
from adsim.world.text import make_titles


@dataclass(eq=False)
class Brands:
    brand_id: np.ndarray      # int16
    name: np.ndarray          # object (str)
    top: np.ndarray           # int16, the category the brand sells in
    price_level: np.ndarray   # float32, shifts its items' price tiers
    popularity: np.ndarray    # float32, Zipf share within its category


@dataclass(eq=False)
class Advertisers:
    advertiser_id: np.ndarray  # int32
    top: np.ndarray            # int16
    daily_budget: np.ndarray   # float32; inf when budgets are off


@dataclass(eq=False)
class Items:
    """One row per item; every item is advertised by its advertiser."""

    item_id: np.ndarray        # int32, dense 0..n-1
    advertiser_id: np.ndarray  # int32
    leaf: np.ndarray           # int16 into taxonomy.LEAVES
    top: np.ndarray            # int16 into taxonomy.TOP_CATEGORIES
    colour: np.ndarray         # int8
    pattern: np.ndarray        # int8
    style: np.ndarray          # int8
    brand: np.ndarray          # int16
    price_tier: np.ndarray     # int8, 0 (budget) .. 4 (high-end)
    price: np.ndarray          # float32
    quality: np.ndarray        # float32 in (0, 1); not visible in images or titles
    taste: np.ndarray          # float32 (n, taste_dim), unit norm; partly visible (see render)
    n_views: np.ndarray        # int8, number of product images
    listed_day: np.ndarray     # int16; day the item went online (new items list late)
    bid: np.ndarray            # float32 CPC bid
    title: np.ndarray          # object (str)


def zipf_weights(n: int, exponent: float) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** exponent
    return w / w.sum()


def _grouped_choice(rng: np.random.Generator, group_of_row: np.ndarray, members: list[np.ndarray],
                    weights: list[np.ndarray], fallback: np.ndarray) -> np.ndarray:
    """For each row, draw one member of its group (by weight); empty groups draw from `fallback`."""
    out = np.empty(len(group_of_row), dtype=np.int64)
    for g in range(len(members)):
        rows = np.flatnonzero(group_of_row == g)
        pool, w = (members[g], weights[g]) if len(members[g]) else (fallback, None)
        out[rows] = rng.choice(pool, size=len(rows), p=w)
    return out


def make_brands(cfg: WorldConfig, seed: int) -> Brands:
    rng = generator(seed, "brands")
    n, n_top = cfg.n_brands, len(TOP_CATEGORIES)
    top = rng.permutation(np.arange(n) % n_top).astype(np.int16)
    popularity = np.zeros(n, dtype=np.float32)
    for t in range(n_top):
        idx = np.flatnonzero(top == t)
        popularity[idx] = zipf_weights(len(idx), 1.07)
    return Brands(brand_id=np.arange(n, dtype=np.int16), name=np.array(brand_names(n, rng), dtype=object),
                  top=top, price_level=rng.normal(0, 0.8, n).astype(np.float32), popularity=popularity)


def make_advertisers(cfg: WorldConfig, seed: int) -> Advertisers:
    rng = generator(seed, "advertisers")
    n = cfg.n_advertisers
    top = rng.permutation(np.arange(n) % len(TOP_CATEGORIES)).astype(np.int16)
    # Budgets are sized later from the advertiser's inventory and bids (see make_items).
    return Advertisers(advertiser_id=np.arange(n, dtype=np.int32), top=top,
                       daily_budget=np.full(n, np.inf, dtype=np.float32))


def make_items(cfg: WorldConfig, seed: int, brands: Brands, advertisers: Advertisers, n_days: int) -> Items:
    rng = generator(seed, "items")
    n, n_leaves, n_top = cfg.n_items, len(LEAVES), len(TOP_CATEGORIES)

    top_share = rng.dirichlet(np.full(n_top, 5.0))
    leaf_share = np.concatenate([top_share[t] * rng.dirichlet(np.full(5, 3.0)) for t in range(n_top)])
    leaf = rng.choice(n_leaves, size=n, p=leaf_share).astype(np.int16)
    top = LEAF_TOP[leaf]

    def leaf_prior(k: int, concentration: float) -> np.ndarray:
        rows = rng.dirichlet(np.full(k, concentration), size=n_leaves)
        return 0.5 * rows + 0.5 / k

    colour = categorical(rng, leaf_prior(len(COLOURS), 0.7)[leaf]).astype(np.int8)
    pattern = categorical(rng, leaf_prior(len(PATTERNS), 0.9)[leaf]).astype(np.int8)
    style = categorical(rng, leaf_prior(len(STYLES), 1.0)[leaf]).astype(np.int8)

    brand_members = [np.flatnonzero(brands.top == t) for t in range(n_top)]
    brand = _grouped_choice(rng, top, brand_members,
                            [brands.popularity[m] / brands.popularity[m].sum() for m in brand_members],
                            brands.brand_id.astype(np.int64)).astype(np.int16)
    adv_members = [np.flatnonzero(advertisers.top == t) for t in range(n_top)]
    advertiser = _grouped_choice(rng, top, adv_members, [zipf_weights(len(m), 0.8) for m in adv_members],
                                 advertisers.advertiser_id.astype(np.int64)).astype(np.int32)

    tier = np.clip(np.rint(2 + brands.price_level[brand] + rng.normal(0, 0.7, n)), 0, N_PRICE_TIERS - 1).astype(np.int8)
    leaf_base_price = np.exp(rng.normal(np.log(cfg.price_median), cfg.price_sigma, n_leaves))
    price = (leaf_base_price[leaf] * 1.6 ** (tier - 2.0) * np.exp(rng.normal(0, 0.15, n))).astype(np.float32)
    quality = rng.beta(4.0, 3.0, n).astype(np.float32)
    taste = rng.normal(size=(n, cfg.taste_dim))
    taste = (taste / np.linalg.norm(taste, axis=1, keepdims=True)).astype(np.float32)
    n_views = (1 + rng.binomial(cfg.max_views - 1, 0.6, n)).astype(np.int8)

    is_new = rng.random(n) < cfg.new_item_share
    listed_day = np.where(is_new, rng.integers(-7, n_days, n),
                          rng.integers(-400, -cfg.history_days, n)).astype(np.int16)

    adv_effect = rng.normal(0, 0.3, cfg.n_advertisers)
    log_bid = (np.log(0.25) + 0.3 * (tier - 2.0) + 0.25 * np.log(price / leaf_base_price[leaf])
               + adv_effect[advertiser] + rng.normal(0, 0.35, n))
    bid = np.exp(log_bid).astype(np.float32)

    title = make_titles(leaf, top, colour, pattern, style, brand, tier, brands.name, generator(seed, "titles"))
    return Items(item_id=np.arange(n, dtype=np.int32), advertiser_id=advertiser, leaf=leaf, top=top,
                 colour=colour, pattern=pattern, style=style, brand=brand, price_tier=tier, price=price,
                 quality=quality, taste=taste, n_views=n_views, listed_day=listed_day, bid=bid, title=title)


def size_budgets(cfg: WorldConfig, seed: int, advertisers: Advertisers, items: Items, requests_per_day: int) -> Advertisers:
    """Finite daily budgets (when enabled): a lognormal share of what the advertiser could spend."""
    if not cfg.budgets:
        return advertisers
    rng = generator(seed, "budgets")
    bid_mass = np.bincount(items.advertiser_id, weights=items.bid, minlength=len(advertisers.advertiser_id))
    # Expected spend scales with inventory x bid x traffic; budgets bind for roughly half of advertisers.
    scale = requests_per_day / max(len(items.item_id), 1) * 0.6
    budget = (bid_mass * scale * np.exp(rng.normal(0, 0.7, len(bid_mass)))).astype(np.float32)
    return Advertisers(advertiser_id=advertisers.advertiser_id, top=advertisers.top,
                       daily_budget=np.maximum(budget, 0.01).astype(np.float32))
