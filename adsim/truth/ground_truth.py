"""The world's ground truth: graded relevance, attractiveness, click and purchase probability.

These are the only definitions of "what the user wants". The world uses them to generate
behaviour, the click simulator to draw outcomes, and the metrics to score results. The ad system
under test (stages/, encoders/) must never call them; a test enforces that.

Click model (PBM): P(click | ad in slot k) = examination(k) * attractiveness(user, query, item).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from adsim.core.tables import take
from adsim.core.taxonomy import COLOURS, LEAF_TOP, PATTERNS, STYLES

# Attractiveness logit = BASE + REL_LOGIT[grade] + taste, affinity, quality, price and target terms.
BASE_LOGIT = -1.7
REL_LOGIT = np.array([-4.0, -2.4, -0.8, 0.0], dtype=np.float32)
TASTE_WEIGHT = 2.5
COLOUR_WEIGHT = 0.45
PATTERN_WEIGHT = 0.25
STYLE_WEIGHT = 0.3
QUALITY_WEIGHT = 1.8
PRICE_WEIGHT = 0.35
TARGET_BONUS = 0.4
AFFINITY_CLIP = 2.0


@dataclass(eq=False)
class Intents:
    """What a query asks for. Attributes are -1 where the query leaves them open."""

    leaf: np.ndarray        # int16, always set
    colour: np.ndarray      # int8
    pattern: np.ndarray     # int8
    style: np.ndarray       # int8
    brand: np.ndarray       # int16
    price_tier: np.ndarray  # int8
    target: np.ndarray      # int32, the item the user had in mind


_MATCHED = ("colour", "pattern", "style", "brand", "price_tier")


def _rows(a: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Per-query values broadcast against a (Q, C) item-id array."""
    return a.reshape(a.shape + (1,) * (like.ndim - a.ndim))


ROW_BLOCK = 4096  # query rows computed together: elementwise work stays in cache, temporaries stay small


def _in_row_blocks(fn: Callable[..., np.ndarray], n: int, *args) -> np.ndarray:
    """`fn(*args)` computed on blocks of ROW_BLOCK query rows: every array argument (and every field
    of a table argument) with n rows is sliced, the rest is passed whole. Elementwise per (query,
    item) pair, so the result equals one call on all rows, bit for bit."""
    if n <= ROW_BLOCK:
        return fn(*args)
    out = None
    for s in range(0, n, ROW_BLOCK):
        rows = slice(s, s + ROW_BLOCK)
        part = fn(*(_row_slice(a, n, rows) for a in args))
        if out is None:
            out = np.empty((n,) + part.shape[1:], dtype=part.dtype)
        out[rows] = part
    return out


def _row_slice(a, n: int, rows: slice):
    if isinstance(a, np.ndarray) and a.ndim and len(a) == n:
        return a[rows]
    if isinstance(a, Intents):
        return take(a, rows)
    return a


def relevance(intents, items, item_ids: np.ndarray) -> np.ndarray:
    """Graded relevance 0-3 of items `item_ids` (shape (Q, C) or (Q,)) to Q queries (see `_relevance`)."""
    return _in_row_blocks(_relevance, len(intents.leaf), intents, items, np.asarray(item_ids))


def _relevance(intents, items, item_ids: np.ndarray) -> np.ndarray:
    """Graded relevance 0-3 of items `item_ids` (shape (Q, C) or (Q,)) to Q queries.

    Same leaf: 3 if every attribute the query specifies matches; 2 if it matches at least half of
    them (at most one mismatch when three or fewer are specified); else 1.
    Same top category, other leaf: 1 with at most one mismatch, else 0. Other category: 0.
    """
    leaf = items.leaf[item_ids]
    q_leaf = _rows(intents.leaf, item_ids)
    mismatches = np.zeros(item_ids.shape, dtype=np.int8)
    specified = np.zeros(intents.leaf.shape, dtype=np.int8)
    for name in _MATCHED:
        wanted = getattr(intents, name)
        specified += wanted >= 0
        mismatches += (_rows(wanted, item_ids) >= 0) & (getattr(items, name)[item_ids] != _rows(wanted, item_ids))
    tolerated = _rows(np.maximum(1, specified // 2), item_ids)
    same_leaf = leaf == q_leaf
    same_top = LEAF_TOP[leaf] == LEAF_TOP[q_leaf]
    in_leaf = np.where(mismatches == 0, 3, np.where(mismatches <= tolerated, 2, 1))
    return np.where(same_leaf, in_leaf, np.where(same_top & (mismatches <= 1), 1, 0)).astype(np.int8)


def _affinity(pref: np.ndarray, n_values: int) -> np.ndarray:
    """Log preference relative to uniform, clipped: 0 for an indifferent user."""
    return np.clip(np.log(pref * n_values + 1e-6), -AFFINITY_CLIP, AFFINITY_CLIP)


TASTE_BLOCK = 1024  # rows per einsum: a cache-sized gather is ~10x faster than one broadcast over all rows


def taste_match(users, user_ids, items, item_ids) -> np.ndarray:
    """Dot product of user and item taste vectors, shape of item_ids ((Q,) users against (Q,) or
    (Q, C) items)."""
    user_ids = np.asarray(user_ids)
    flat = np.asarray(item_ids).reshape(len(user_ids), -1)
    out = np.empty(flat.shape, dtype=np.float32)
    for s in range(0, len(flat), TASTE_BLOCK):
        e = s + TASTE_BLOCK
        out[s:e] = np.einsum("bd,bkd->bk", users.taste[user_ids[s:e]], items.taste[flat[s:e]])
    return out.reshape(np.shape(item_ids))


def attractiveness_logit(users, user_ids, intents, items, item_ids, grade: np.ndarray | None = None) -> np.ndarray:
    """Logit of P(click | examined) for each (query row, item) pair."""
    return _in_row_blocks(_attractiveness_logit, len(user_ids), users, np.asarray(user_ids), intents, items,
                          np.asarray(item_ids), grade)


def _attractiveness_logit(users, user_ids, intents, items, item_ids, grade: np.ndarray | None) -> np.ndarray:
    if grade is None:
        grade = _relevance(intents, items, item_ids)
    u = _rows(user_ids, item_ids)
    logit = BASE_LOGIT + REL_LOGIT[grade]
    logit = logit + TASTE_WEIGHT * taste_match(users, user_ids, items, item_ids)
    logit += COLOUR_WEIGHT * _affinity(users.colour_aff[u, items.colour[item_ids]], len(COLOURS))
    logit += PATTERN_WEIGHT * _affinity(users.pattern_aff[u, items.pattern[item_ids]], len(PATTERNS))
    logit += STYLE_WEIGHT * _affinity(users.style_aff[u, items.style[item_ids]], len(STYLES))
    logit += QUALITY_WEIGHT * (items.quality[item_ids] - 0.5)
    logit -= PRICE_WEIGHT * users.price_sensitivity[u] * (items.price_tier[item_ids] - 2.0)
    logit += TARGET_BONUS * (item_ids == _rows(intents.target, item_ids))
    return logit.astype(np.float32)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-x))).astype(np.float32)


def attractiveness(users, user_ids, intents, items, item_ids, shift: float = 0.0) -> np.ndarray:
    """P(click | examined) in (0, 1); `shift` moves every logit (the world's CTR level)."""
    logit = attractiveness_logit(users, user_ids, intents, items, item_ids)
    return sigmoid(logit + np.float32(shift) if shift else logit)


def examination(position: np.ndarray, position_decay: float) -> np.ndarray:
    """P(the user examines slot `position`), 0-based: 1 / (position + 1) ** decay."""
    return (1.0 / (np.asarray(position, dtype=np.float32) + 1.0) ** position_decay).astype(np.float32)


def click_probability(users, user_ids, intents, items, item_ids, position, position_decay: float) -> np.ndarray:
    """True CTR of each item shown at `position` (same shape as item_ids)."""
    return examination(position, position_decay) * attractiveness(users, user_ids, intents, items, item_ids)


def purchase_probability(users, user_ids, intents, items, item_ids) -> np.ndarray:
    """P(purchase | click)."""
    grade = relevance(intents, items, item_ids)
    u = _rows(user_ids, item_ids)
    logit = (-2.0 + 0.9 * (grade - 2.0) + 1.5 * (items.quality[item_ids] - 0.5)
             - 0.3 * users.price_sensitivity[u] * (items.price_tier[item_ids] - 2.0)
             + 1.0 * taste_match(users, user_ids, items, item_ids))
    return sigmoid(logit)
