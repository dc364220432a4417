"""The loop-per-row text generator adsim shipped before the vectorised one (adsim.world.text): kept
as the specification the vectorised code must reproduce string for string."""
from __future__ import annotations

import numpy as np

from adsim.core.taxonomy import (
    COLOUR_WORDS,
    LEAF_WORDS,
    PATTERN_WORDS,
    PRICE_TIER_WORDS,
    STUFFING,
    STYLE_WORDS,
    TOP_WORDS,
    Words,
)
from adsim.world.text import (
    QUERY_SHARED_WORD,
    QUERY_TYPO,
    STUFFING_RATE,
    TITLE_MENTION,
    TITLE_SHARED_WORD,
    TITLE_TYPO,
    typo,
)


def choose_word(words: Words, audience: str, u_shared: float, u_pick: float) -> str:
    """One surface form: a shared word with some probability, else one of the audience's own."""
    own = words.title_only if audience == "title" else words.query_only
    p_shared = TITLE_SHARED_WORD if audience == "title" else QUERY_SHARED_WORD
    pool = words.shared if (u_shared < p_shared or not own) else own
    return pool[int(u_pick * len(pool))]


def _finish(parts: list[str], rng_u: np.ndarray, typo_rate: float) -> str:
    words = " ".join(parts).split()
    for k in range(len(words)):
        u = rng_u[k % len(rng_u)]
        if u[0] < typo_rate:
            words[k] = typo(words[k], u[1], u[2])
    return " ".join(words)


def make_titles(leaf, top, colour, pattern, style, brand, price_tier, brand_names, rng: np.random.Generator) -> np.ndarray:
    """Seller titles for n items (object array of str)."""
    n = len(leaf)
    mention = {k: rng.random(n) < p for k, p in TITLE_MENTION.items()}
    pick = rng.random((n, 8, 2))
    stuff = rng.random((n, 2))
    stuff_word = rng.integers(0, len(STUFFING), size=(n, 2))
    typo_u = rng.random((n, 12, 3))
    titles = np.empty(n, dtype=object)
    for i in range(n):
        p = pick[i]
        parts = []
        if mention["brand"][i]:
            parts.append(brand_names[brand[i]])
        if stuff[i, 0] < STUFFING_RATE:
            parts.append(STUFFING[stuff_word[i, 0]])
        if mention["style"][i]:
            parts.append(choose_word(STYLE_WORDS[style[i]], "title", *p[0]))
        if mention["colour"][i]:
            parts.append(choose_word(COLOUR_WORDS[colour[i]], "title", *p[1]))
        if mention["pattern"][i]:
            parts.append(choose_word(PATTERN_WORDS[pattern[i]], "title", *p[2]))
        parts.append(choose_word(LEAF_WORDS[leaf[i]], "title", *p[3]))
        if mention["top"][i]:
            parts.append(choose_word(TOP_WORDS[top[i]], "title", *p[4]))
        tier_words = PRICE_TIER_WORDS[price_tier[i]]
        if tier_words is not None and mention["tier"][i]:
            parts.append(choose_word(tier_words, "title", *p[5]))
        if stuff[i, 1] < STUFFING_RATE:
            parts.append(STUFFING[stuff_word[i, 1]])
        titles[i] = _finish(parts, typo_u[i], TITLE_TYPO)
    return titles


def make_query_texts(leaf, colour, pattern, style, brand, price_tier, brand_names, rng: np.random.Generator) -> np.ndarray:
    """Shopper query strings; an attribute of -1 is not mentioned (leaf -1 gives an empty query)."""
    n = len(leaf)
    pick = rng.random((n, 6, 2))
    brand_first = rng.random(n) < 0.3
    typo_u = rng.random((n, 8, 3))
    texts = np.empty(n, dtype=object)
    for i in range(n):
        if leaf[i] < 0:
            texts[i] = ""
            continue
        p = pick[i]
        parts = []
        if price_tier[i] >= 0 and PRICE_TIER_WORDS[price_tier[i]] is not None:
            parts.append(choose_word(PRICE_TIER_WORDS[price_tier[i]], "query", *p[0]))
        if colour[i] >= 0:
            parts.append(choose_word(COLOUR_WORDS[colour[i]], "query", *p[1]))
        if pattern[i] >= 0:
            parts.append(choose_word(PATTERN_WORDS[pattern[i]], "query", *p[2]))
        if style[i] >= 0:
            parts.append(choose_word(STYLE_WORDS[style[i]], "query", *p[3]))
        parts.append(choose_word(LEAF_WORDS[leaf[i]], "query", *p[4]))
        if brand[i] >= 0:
            name = brand_names[brand[i]].lower()
            parts.insert(0, name) if brand_first[i] else parts.append(name)
        texts[i] = _finish(parts, typo_u[i], QUERY_TYPO)
    return texts
