"""Users: what they like (categories, colours, patterns, styles, taste), how price-sensitive
and how active they are. Activity is heavy-tailed, like real search traffic."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from adsim.core.config import WorldConfig
from adsim.core.rng import generator
from adsim.core.taxonomy import (
    COLOURS,
    LEAVES_PER_TOP,
    PATTERNS,
    STYLES,
    TOP_CATEGORIES,
)


@dataclass(eq=False)
class Users:
    user_id: np.ndarray            # int32
    activity: np.ndarray           # float32, mean 1, lognormal
    price_sensitivity: np.ndarray  # float32 > 0
    taste: np.ndarray              # float32 (n, taste_dim), unit norm
    leaf_pref: np.ndarray          # float32 (n, n_leaves), rows sum to 1
    colour_aff: np.ndarray         # float32 (n, n_colours), rows sum to 1
    pattern_aff: np.ndarray        # float32 (n, n_patterns)
    style_aff: np.ndarray          # float32 (n, n_styles)


def make_users(cfg: WorldConfig, seed: int) -> Users:
    rng = generator(seed, "users")
    n, n_top = cfg.n_users, len(TOP_CATEGORIES)
    activity = rng.lognormal(0.0, cfg.activity_sigma, n)
    activity = activity / activity.mean()
    top_pref = rng.dirichlet(np.full(n_top, 0.35), size=n)
    within = rng.dirichlet(np.full(LEAVES_PER_TOP, 1.0), size=(n, n_top))
    leaf_pref = (top_pref[:, :, None] * within).reshape(n, -1)
    taste = rng.normal(size=(n, cfg.taste_dim))
    taste /= np.linalg.norm(taste, axis=1, keepdims=True)
    f32 = np.float32
    return Users(
        user_id=np.arange(n, dtype=np.int32),
        activity=activity.astype(f32),
        price_sensitivity=rng.lognormal(np.log(0.8), 0.5, n).astype(f32),
        taste=taste.astype(f32),
        leaf_pref=leaf_pref.astype(f32),
        colour_aff=rng.dirichlet(np.full(len(COLOURS), 0.6), size=n).astype(f32),
        pattern_aff=rng.dirichlet(np.full(len(PATTERNS), 0.8), size=n).astype(f32),
        style_aff=rng.dirichlet(np.full(len(STYLES), 0.8), size=n).astype(f32),
    )
