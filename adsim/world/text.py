"""Titles written by sellers and queries typed by shoppers, from item attributes.

Titles use title vocabulary, drop some attributes, stuff keywords and carry typos; queries use
partly different (query) vocabulary. All randomness comes from the Generator passed in, drawn in
a fixed order, so the text is a deterministic function of the seed.

Vectorised: each row's words are surface-form ids in a fixed (rows, slots) grid, forms expand
to tokens, typos touch the few tokens their draw selects, and one join makes the strings.
`tests/world/text_reference.py` keeps the loop-per-row generator this reproduces string for string.
"""

from __future__ import annotations

from dataclasses import dataclass

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

TITLE_MENTION = {"brand": 0.85, "style": 0.6, "colour": 0.8, "pattern": 0.65, "top": 0.3, "tier": 0.7}
TITLE_SHARED_WORD = 0.45
QUERY_SHARED_WORD = 0.4
TITLE_TYPO = 0.04
QUERY_TYPO = 0.03
STUFFING_RATE = 0.35


def typo(word: str, u_kind: float, u_pos: float) -> str:
    """Swap two adjacent letters, drop one, or double one."""
    if len(word) < 4:
        return word
    i = 1 + int(u_pos * (len(word) - 2))
    if u_kind < 1 / 3:
        return word[: i - 1] + word[i] + word[i - 1] + word[i + 1:]
    if u_kind < 2 / 3:
        return word[:i] + word[i + 1:]
    return word[:i] + word[i] + word[i:]


class Forms:
    """A growing table of surface forms (strings), each also split into its tokens."""

    def __init__(self) -> None:
        self.text: list[str] = []

    def add(self, forms: tuple[str, ...] | list[str]) -> np.ndarray:
        start = len(self.text)
        self.text.extend(forms)
        return np.arange(start, len(self.text))

    def tokens(self) -> tuple[list[str], np.ndarray]:
        """The distinct token strings, and a (n_forms, max tokens) table of token ids (-1 pads)."""
        split = [f.split() for f in self.text]
        vocab = sorted({t for s in split for t in s})
        index = {t: i for i, t in enumerate(vocab)}
        table = np.full((len(split), max(map(len, split))), -1, dtype=np.int64)
        for i, s in enumerate(split):
            table[i, :len(s)] = [index[t] for t in s]
        return vocab, table


@dataclass(frozen=True)
class WordChoice:
    """Per attribute value, where its shared forms and the audience's own forms sit in `Forms`."""

    shared_start: np.ndarray
    shared_len: np.ndarray
    own_start: np.ndarray
    own_len: np.ndarray
    p_shared: float

    @classmethod
    def of(cls, forms: Forms, values: tuple[Words | None, ...], audience: str) -> "WordChoice":
        cols = np.zeros((4, len(values)), dtype=np.int64)
        for v, words in enumerate(values):
            if words is None:
                continue
            own = words.title_only if audience == "title" else words.query_only
            cols[:, v] = forms.add(words.shared)[0], len(words.shared), forms.add(own)[0] if own else 0, len(own)
        p = TITLE_SHARED_WORD if audience == "title" else QUERY_SHARED_WORD
        return cls(*cols, p_shared=p)

    def pick(self, value: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Form id of each row's surface form for `value` (as `choose_word`: shared with some
        probability or when the audience has no words of its own), from its (u_shared, u_pick)."""
        v = np.maximum(value, 0)
        shared = (u[:, 0] < self.p_shared) | (self.own_len[v] == 0)
        start = np.where(shared, self.shared_start[v], self.own_start[v])
        length = np.where(shared, self.shared_len[v], self.own_len[v])
        return start + (u[:, 1] * length).astype(np.int64)  # int() of a non-negative float floors


def _vocabulary(audience: str, brand_names) -> tuple[Forms, dict[str, WordChoice], np.ndarray, np.ndarray]:
    forms = Forms()
    tables = {"leaf": LEAF_WORDS, "top": TOP_WORDS, "colour": COLOUR_WORDS, "pattern": PATTERN_WORDS,
              "style": STYLE_WORDS, "tier": PRICE_TIER_WORDS}
    choice = {name: WordChoice.of(forms, values, audience) for name, values in tables.items()}
    brands = [str(b) if audience == "title" else str(b).lower() for b in brand_names]
    return forms, choice, forms.add(brands), forms.add(STUFFING)


_HAS_TIER_WORDS = np.array([w is not None for w in PRICE_TIER_WORDS])


def render(forms: Forms, slots: np.ndarray, typo_u: np.ndarray, typo_rate: float) -> np.ndarray:
    """Strings from (n, S) form ids (-1 = no word), their tokens joined by single spaces; token k of
    a row gets a typo when typo_u[row, k % U, 0] < typo_rate (object array of str)."""
    n = len(slots)
    if n == 0:
        return np.empty(0, dtype=object)
    vocab, form_tokens = forms.tokens()
    tok = np.where(slots[:, :, None] >= 0, form_tokens[np.maximum(slots, 0)], -1).reshape(n, -1)
    rows, cols = np.nonzero(tok >= 0)  # row-major: each row's tokens in order
    ids = tok[rows, cols]
    k = np.arange(len(rows)) - np.searchsorted(rows, rows)  # position of the token within its row
    u = typo_u[rows, k % typo_u.shape[1]]
    hit = np.flatnonzero(u[:, 0] < typo_rate)
    typoed = [typo(vocab[i], a, b) for i, a, b in zip(ids[hit].tolist(), u[hit, 1].tolist(), u[hit, 2].tolist())]
    ids[hit] = len(vocab) + np.arange(len(hit))
    # Tokens joined by " " within a row and "\n" (which no token holds) between rows, then split.
    pieces = np.empty(2 * len(ids), dtype=object)
    pieces[0::2] = np.array(vocab + typoed, dtype=object)[ids]
    pieces[1::2] = " "
    last = np.flatnonzero(np.diff(rows, append=n))  # each row's last token
    pieces[2 * last + 1] = "\n"
    out = np.full(n, "", dtype=object)
    out[rows[last]] = "".join(pieces.tolist()).split("\n")[:-1]
    return out


def make_titles(leaf, top, colour, pattern, style, brand, price_tier, brand_names, rng: np.random.Generator) -> np.ndarray:
    """Seller titles for n items (object array of str)."""
    n = len(leaf)
    mention = {k: rng.random(n) < p for k, p in TITLE_MENTION.items()}
    pick = rng.random((n, 8, 2))
    stuff = rng.random((n, 2))
    stuff_word = rng.integers(0, len(STUFFING), size=(n, 2))
    typo_u = rng.random((n, 12, 3))
    forms, choice, brand_form, stuffing_form = _vocabulary("title", brand_names)

    def when(mask: np.ndarray, form: np.ndarray) -> np.ndarray:
        return np.where(mask, form, -1)

    slots = np.stack([
        when(mention["brand"], brand_form[brand]),
        when(stuff[:, 0] < STUFFING_RATE, stuffing_form[stuff_word[:, 0]]),
        when(mention["style"], choice["style"].pick(style, pick[:, 0])),
        when(mention["colour"], choice["colour"].pick(colour, pick[:, 1])),
        when(mention["pattern"], choice["pattern"].pick(pattern, pick[:, 2])),
        choice["leaf"].pick(leaf, pick[:, 3]),
        when(mention["top"], choice["top"].pick(top, pick[:, 4])),
        when(_HAS_TIER_WORDS[price_tier] & mention["tier"], choice["tier"].pick(price_tier, pick[:, 5])),
        when(stuff[:, 1] < STUFFING_RATE, stuffing_form[stuff_word[:, 1]]),
    ], axis=1)
    return render(forms, slots, typo_u, TITLE_TYPO)


@dataclass(frozen=True)
class QueryDraws:
    """The uniforms one query's text is made from, drawn for every row up front, so rendering only
    some rows later (the past sessions that ended in a click) leaves the random stream unchanged."""

    pick: np.ndarray         # (n, 6, 2)
    brand_first: np.ndarray  # bool (n,)
    typo_u: np.ndarray       # (n, 8, 3)

    @classmethod
    def draw(cls, rng: np.random.Generator, n: int) -> "QueryDraws":
        pick = rng.random((n, 6, 2))
        brand_first = rng.random(n) < 0.3
        return cls(pick=pick, brand_first=brand_first, typo_u=rng.random((n, 8, 3)))


def make_query_texts(leaf, colour, pattern, style, brand, price_tier, brand_names, rng: np.random.Generator) -> np.ndarray:
    """Shopper query strings; an attribute of -1 is not mentioned (leaf -1 gives an empty query)."""
    return render_queries(leaf, colour, pattern, style, brand, price_tier, brand_names, QueryDraws.draw(rng, len(leaf)))


def render_queries(leaf, colour, pattern, style, brand, price_tier, brand_names, d: QueryDraws) -> np.ndarray:
    """The query strings of rows whose words (attribute columns) and draws `d` are given."""
    pick = d.pick
    forms, choice, brand_form, _ = _vocabulary("query", brand_names)
    asked = np.asarray(leaf) >= 0

    def when(mask: np.ndarray, form: np.ndarray) -> np.ndarray:
        return np.where(mask & asked, form, -1)

    has_brand = np.asarray(brand) >= 0
    brand_word = brand_form[np.maximum(brand, 0)]
    slots = np.stack([
        when(has_brand & d.brand_first, brand_word),
        when((price_tier >= 0) & _HAS_TIER_WORDS[np.maximum(price_tier, 0)], choice["tier"].pick(price_tier, pick[:, 0])),
        when(colour >= 0, choice["colour"].pick(colour, pick[:, 1])),
        when(pattern >= 0, choice["pattern"].pick(pattern, pick[:, 2])),
        when(style >= 0, choice["style"].pick(style, pick[:, 3])),
        when(asked, choice["leaf"].pick(leaf, pick[:, 4])),
        when(has_brand & ~d.brand_first, brand_word),
    ], axis=1)
    return render(forms, slots, d.typo_u, QUERY_TYPO)
