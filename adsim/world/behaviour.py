"""Shoppers' intents and queries, and the requests the ad system will serve.

Requests (and past sessions, adsim.world.history) come from one generative story, the
ground-truth choice model:
a user picks a leaf category (mostly from their preferences), has a target item in mind (the
most attractive of a few items of that leaf, under the ground truth), and issues a query that
specifies some of the target's attributes: text queries a few words, image queries a photo that
shows every visible attribute, multimodal queries a photo plus a few words.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from adsim.core.config import TrafficConfig, WorldConfig
from adsim.core.rng import categorical, generator
from adsim.core.chunks import chunk_generator, chunk_map
from adsim.core.tables import concat_tables, enum_field, take
from adsim.core.taxonomy import PRICE_TIER_WORDS
from adsim.core.vocab import MODALITIES, N_MODALITIES, Modality
from adsim.truth.ground_truth import Intents, attractiveness_logit
from adsim.world.catalog import Items
from adsim.world.leaf_index import LeafIndex
from adsim.world.text import QueryDraws, render_queries
from adsim.world.users import Users

SECONDS_PER_DAY = 86_400
TARGET_POOL = 16    # items of the leaf the user weighs when forming an intent
BENCHMARK_REQUESTS = 20_000  # at most, on the held-out day

# P(attribute is specified) per modality, for (colour, pattern, style, brand, price_tier).
SPECIFIED = np.array([
    [0.55, 0.30, 0.25, 0.15, 0.15],  # text: a few words
    [1.0, 1.0, 1.0, 1.0, 0.0],       # image: the photo shows every visible attribute
    [1.0, 1.0, 1.0, 1.0, 0.30],      # multimodal: photo plus words (e.g. "cheap")
])
MULTIMODAL_COLOUR_WORD = 0.3  # a multimodal query also names the colour this often


@dataclass(eq=False)
class QueryWords:
    """What a query's words state, -1 where they say nothing of it: the parse of its text that the
    world keeps (a multimodal query's photo shows more than its words say)."""

    leaf: np.ndarray        # int16
    colour: np.ndarray      # int8
    pattern: np.ndarray     # int8
    style: np.ndarray       # int8
    brand: np.ndarray       # int16
    price_tier: np.ndarray  # int8; only the tiers that have words (budget, high-end)


@dataclass(eq=False)
class Requests:
    """Search requests to serve. `words` and `intent` are the world's: stages never see them."""

    request_id: np.ndarray   # int64
    day: np.ndarray          # int16
    ts: np.ndarray           # int64 seconds since day 0 began
    user_id: np.ndarray      # int32
    modality: np.ndarray = enum_field(MODALITIES)  # int8 code
    query_text: np.ndarray  # object (str); "" for image queries
    words: QueryWords
    intent: Intents


def _leaf_choice(rng, users: Users, user_ids, index: LeafIndex, preference_share: float) -> np.ndarray:
    stocked = index.counts > 0
    pref = users.leaf_pref[user_ids] * stocked
    pref /= pref.sum(axis=1, keepdims=True)
    explore = np.broadcast_to(stocked / stocked.sum(), pref.shape)
    use_pref = rng.random(len(user_ids)) < preference_share
    return categorical(rng, np.where(use_pref[:, None], pref, explore)).astype(np.int16)


def gumbel_argmax(rng, logits: np.ndarray) -> np.ndarray:
    """Row-wise sample from softmax(logits)."""
    return np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)


def draw_intents(rng, users: Users, items: Items, user_ids: np.ndarray, modality: np.ndarray,
                 index: LeafIndex, preference_share: float) -> Intents:
    """Intent and target item for each (user, modality) under the ground-truth choice model."""
    n = len(user_ids)
    leaf = _leaf_choice(rng, users, user_ids, index, preference_share)
    pool = index.sample(rng, leaf, TARGET_POOL)
    open_intent = Intents(leaf=leaf, colour=np.full(n, -1, np.int8), pattern=np.full(n, -1, np.int8),
                          style=np.full(n, -1, np.int8), brand=np.full(n, -1, np.int16),
                          price_tier=np.full(n, -1, np.int8), target=np.full(n, -1, np.int32))
    logits = attractiveness_logit(users, user_ids, open_intent, items, pool)
    target = pool[np.arange(n), gumbel_argmax(rng, logits)].astype(np.int32)
    specified = rng.random((n, SPECIFIED.shape[1])) < SPECIFIED[modality]
    attrs = {}
    for j, (name, dtype) in enumerate((("colour", np.int8), ("pattern", np.int8), ("style", np.int8),
                                       ("brand", np.int16), ("price_tier", np.int8))):
        attrs[name] = np.where(specified[:, j], getattr(items, name)[target], -1).astype(dtype)
    return Intents(leaf=leaf, target=target, **attrs)


def query_words(rng, intents: Intents, modality: np.ndarray) -> QueryWords:
    """What each query says: text queries name what they specify; multimodal ones the noun, the price
    tier when it has words and sometimes the colour; image queries nothing."""
    is_text = modality == Modality.TEXT
    is_mm = modality == Modality.MULTIMODAL
    says_colour = is_text | (is_mm & (rng.random(len(modality)) < MULTIMODAL_COLOUR_WORD))
    worded_tier = np.isin(intents.price_tier, [t for t, w in enumerate(PRICE_TIER_WORDS) if w is not None])

    def said(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.where(mask, values, -1).astype(values.dtype)

    return QueryWords(leaf=said(intents.leaf, is_text | is_mm), colour=said(intents.colour, says_colour),
                      pattern=said(intents.pattern, is_text), style=said(intents.style, is_text),
                      brand=said(intents.brand, is_text), price_tier=said(intents.price_tier, (is_text | is_mm) & worded_tier))


def query_texts(rng, words: QueryWords, brand_names, rows: np.ndarray | None = None) -> np.ndarray:
    """Query strings that state `words` (with the shoppers' vocabulary and typos); with `rows`, the
    strings of those rows only, from the same draws."""
    draws = QueryDraws.draw(rng, len(words.leaf))
    if rows is not None:
        words, draws = take(words, rows), take(draws, rows)
    return render_queries(words.leaf, words.colour, words.pattern, words.style, words.brand, words.price_tier,
                          brand_names, draws)


REQUEST_CHUNK = 1 << 18  # requests whose intents and words are drawn together (bounds memory)


def make_requests(world_cfg: WorldConfig, traffic: TrafficConfig, seed: int, users: Users, items: Items,
                  brand_names, replicate: int = 0) -> Requests:
    """`traffic.n_requests` requests on each of `traffic.n_days` days (served), then one held-out
    day (day `n_days`, from its own random stream, never served): the held-out queries every
    intermediate metric is measured on, drawn by the same story but disjoint from the traffic the
    arms serve, so the errors of an intermediate metric and of a downstream lift are independent.
    A replicate > 0 draws both from streams of its own."""
    again = (replicate,) if replicate else ()
    served = _draw_days(seed, ("requests", *again), np.arange(traffic.n_days), traffic.n_requests, traffic,
                        users, items, brand_names)
    held_out = _draw_days(seed, ("benchmark-requests", *again), np.array([traffic.n_days]),
                       min(traffic.n_requests, BENCHMARK_REQUESTS), traffic, users, items, brand_names)
    joined = concat_tables([served, held_out], consume=True)
    joined.request_id = np.arange(len(joined.day), dtype=np.int64)
    return joined


def _draw_days(seed: int, stream: tuple, days: np.ndarray, per_day: int, traffic: TrafficConfig, users: Users,
               items: Items, brand_names) -> Requests:
    """`per_day` requests on each of `days`, users drawn by activity. Who asks, when and how comes
    from the stream `stream`; the intents and words of each REQUEST_CHUNK requests from
    a stream of their own (the first chunk's from the same one)."""
    rng = generator(seed, *stream)
    day = np.repeat(days.astype(np.int16), per_day)
    ts = (day.astype(np.int64) * SECONDS_PER_DAY
          + np.sort(rng.integers(0, SECONDS_PER_DAY, (len(days), per_day)), axis=1).ravel())
    user_ids = rng.choice(len(users.user_id), size=len(day), p=users.activity / users.activity.sum()).astype(np.int32)
    modality = rng.choice(N_MODALITIES, size=len(day), p=traffic.modality_mix.shares()).astype(np.int8)
    # items listed later than a day cannot be anyone's target that day
    indexes = {int(d): LeafIndex.build(items, items.listed_day <= d) for d in days}

    def chunk(c: int) -> tuple[Intents, QueryWords, np.ndarray]:
        rows = slice(c * REQUEST_CHUNK, (c + 1) * REQUEST_CHUNK)
        r = rng if c == 0 else chunk_generator(seed, c, *stream)
        d, u, m = day[rows], user_ids[rows], modality[rows]
        intents = concat_tables([draw_intents(r, users, items, u[d == k], m[d == k], indexes[int(k)], traffic.preference_share)
                                 for k in np.unique(d)])
        words = query_words(r, intents, m)
        return intents, words, query_texts(r, words, brand_names)

    parts = chunk_map(chunk, -(-len(day) // REQUEST_CHUNK))
    return Requests(request_id=np.arange(len(day), dtype=np.int64), day=day, ts=ts, user_id=user_ids,
                    modality=modality, query_text=np.concatenate([p[2] for p in parts]),
                    words=concat_tables([p[1] for p in parts]), intent=concat_tables([p[0] for p in parts]))


def traffic_draw(users: Users, items: Items, brand_names, traffic: TrafficConfig, seed: int, draw: int,
                 day: int) -> Requests:
    """Draw number `draw` of a fresh day of `traffic.n_requests` requests (ids from 0) by the same
    story: an independent draw of one day's traffic, for coverage studies."""
    return _draw_days(seed, ("traffic-draw", draw), np.array([day]), traffic.n_requests, traffic, users, items, brand_names)
