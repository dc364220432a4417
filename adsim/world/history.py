"""Past search sessions before day 0: what a past system showed and what its users clicked.

A past system of limited quality served each session: a slate of `HISTORY_SHOWN` items of the
intent's leaf, holding the shopper's target only with probability `history_target_shown`, ranked
by a noisy estimate of attractiveness (noise sd `history_rank_noise`). The shopper examines slot k
with the position-based model's probability and clicks an examined item when it attracts them,
so a session may have no click or several, and the target is clicked only sometimes: the logs
carry the exposure and position bias that real logs do. One row per click.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from adsim.core.chunks import chunk_generator, chunk_map
from adsim.core.tables import concat_tables, enum_field, take
from adsim.core.vocab import MODALITIES, N_MODALITIES
from adsim.truth.ground_truth import Intents, attractiveness, attractiveness_logit, examination, purchase_probability
from adsim.world.behaviour import SECONDS_PER_DAY, QueryWords, draw_intents, query_words
from adsim.world.catalog import Items
from adsim.world.leaf_index import LeafIndex
from adsim.world.text import QueryDraws, render_queries
from adsim.world.users import Users

HISTORY_SHOWN = 8   # items a past session showed


@dataclass(eq=False)
class History:
    """Past clicks, one row per click, with the session that led to it."""

    event_id: np.ndarray     # int64
    user_id: np.ndarray      # int32
    ts: np.ndarray           # int64, negative (before day 0)
    modality: np.ndarray = enum_field(MODALITIES)
    query_text: np.ndarray
    words: QueryWords
    intent: Intents
    item_id: np.ndarray    # int32, the clicked item
    purchased: np.ndarray  # bool
    shown: np.ndarray      # int32 (n, HISTORY_SHOWN): the session's slate, in slot order

    def target_click_share(self) -> float:
        """The share of clicks that went to the shopper's target."""
        return float((self.item_id == self.intent.target).mean()) if len(self.item_id) else float("nan")


SESSIONS_PER_CLICK = 2.5  # about one past session in 2.5 ends in a click, so sequences reach seq_len


def session_counts(rng, activity: np.ndarray, seq_len: int) -> np.ndarray:
    """Heavy-tailed numbers of past sessions: proportional to activity, between 3 and
    SESSIONS_PER_CLICK x seq_len."""
    raw = np.rint(0.5 * SESSIONS_PER_CLICK * seq_len * activity * rng.lognormal(0, 0.3, len(activity)))
    return np.clip(raw, min(3, seq_len), int(SESSIONS_PER_CLICK * seq_len)).astype(np.int64)


def past_slates(rng, users: Users, user_ids: np.ndarray, intents: Intents, items: Items, index: LeafIndex,
                target_shown: float, rank_noise: float) -> np.ndarray:
    """(n, HISTORY_SHOWN) slates of the past system, in slot order (see the module docstring)."""
    shown = index.sample(rng, intents.leaf, HISTORY_SHOWN)
    # The target is shown only when the past system found it: a draw of it from the leaf (likely in
    # small leaves) is replaced by an item from anywhere in the catalogue.
    stray = index.order[rng.integers(0, len(index.order), shown.shape)]
    shown = np.where(shown == intents.target[:, None], stray, shown)
    shown[:, 0] = np.where(rng.random(len(user_ids)) < target_shown, intents.target, shown[:, 0])
    score = attractiveness_logit(users, user_ids, intents, items, shown) + rank_noise * rng.standard_normal(shown.shape)
    return np.take_along_axis(shown, np.argsort(-score, axis=1, kind="stable"), 1)


HISTORY_CHUNK_USERS = 8192  # users whose sessions are drawn together: bounds memory, part of the world's definition


def make_history(spec, users: Users, items: Items, brand_names) -> History:
    """Each user's past sessions over `history_days` and the clicks they produced (`spec`: a WorldSpec).
    Users are drawn in chunks of HISTORY_CHUNK_USERS, each from a random stream of its own (the
    first from the stream a one-chunk world has always used), so memory is bounded by the chunk."""
    index = LeafIndex.build(items, items.listed_day < -spec.world.history_days)

    def chunk(c: int) -> History:
        lo = c * HISTORY_CHUNK_USERS
        return _history_chunk(chunk_generator(spec.seed, c, "history"), spec, users,
                              users.user_id[lo:lo + HISTORY_CHUNK_USERS], items, index, brand_names)

    history = concat_tables(chunk_map(chunk, -(-len(users.user_id) // HISTORY_CHUNK_USERS)), consume=True)
    history.event_id = np.arange(len(history.item_id), dtype=np.int64)
    return history


def _history_chunk(rng, spec, users: Users, chunk_users: np.ndarray, items: Items, index: LeafIndex,
                   brand_names) -> History:
    """The past sessions of `chunk_users` (ascending ids) and their clicks."""
    w, traffic = spec.world, spec.traffic
    activity = users.activity[chunk_users]
    user_ids = np.repeat(chunk_users, session_counts(rng, activity, w.seq_len))
    n = len(user_ids)
    ts = -rng.integers(1, w.history_days * SECONDS_PER_DAY, n).astype(np.int64)
    ts = ts[np.lexsort((ts, user_ids))]  # user_ids are sorted already: each user's sessions in time order
    modality = rng.choice(N_MODALITIES, size=n, p=traffic.modality_mix.shares()).astype(np.int8)
    intents = draw_intents(rng, users, items, user_ids, modality, index, traffic.preference_share)
    words = query_words(rng, intents, modality)
    text_draws = QueryDraws.draw(rng, n)  # rendered below for the sessions that end in a click only
    shown = past_slates(rng, users, user_ids, intents, items, index, w.history_target_shown, w.history_rank_noise)
    slot = np.arange(HISTORY_SHOWN)
    examined = rng.random(shown.shape) < examination(slot, spec.clicks.position_decay)[None]
    clicked = examined & (rng.random(shown.shape) < attractiveness(users, user_ids, intents, items, shown, spec.clicks.ctr_shift))
    rows, slots = np.nonzero(clicked)  # session order, then slot order within a session
    item = shown[rows, slots].astype(np.int32)
    row_intents = take(intents, rows)
    p_buy = purchase_probability(users, user_ids[rows], row_intents, items, item)
    row_words = take(words, rows)
    texts = render_queries(row_words.leaf, row_words.colour, row_words.pattern, row_words.style, row_words.brand,
                           row_words.price_tier, brand_names, take(text_draws, rows))
    return History(event_id=np.arange(len(rows), dtype=np.int64), user_id=user_ids[rows], ts=ts[rows] - HISTORY_SHOWN + slots,
                   modality=modality[rows], query_text=texts, words=row_words, intent=row_intents,
                   item_id=item, purchased=rng.random(len(rows)) < p_buy, shown=shown[rows].astype(np.int32))
