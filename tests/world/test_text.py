import numpy as np
import pytest

from adsim.core.taxonomy import COLOUR_WORDS, LEAF_WORDS
from adsim.world.text import typo


def _mentions(texts, words_per_row) -> float:
    return float(np.mean([any(w in t.lower() for w in words) for t, words in zip(texts, words_per_row)]))


def test_titles_mention_the_items_attributes(smoke_world):
    items = smoke_world.items
    leaf_words = [LEAF_WORDS[l].shared + LEAF_WORDS[l].title_only for l in items.leaf]
    colour_words = [COLOUR_WORDS[c].shared + COLOUR_WORDS[c].title_only for c in items.colour]
    brand = [(smoke_world.brands.name[b].lower(),) for b in items.brand]
    assert _mentions(items.title, leaf_words) > 0.85
    assert _mentions(items.title, colour_words) > 0.6
    assert _mentions(items.title, brand) > 0.7
    # Some titles drop attributes, some carry typos: they are not a clean attribute dump.
    assert _mentions(items.title, colour_words) < 0.95


def test_queries_use_partly_different_words_from_titles(smoke_world):
    title_vocab = {w for t in smoke_world.items.title for w in t.lower().split()}
    texts = smoke_world.requests.query_text[smoke_world.requests.modality == 0]
    tokens = [w for t in texts for w in t.split()]
    unseen = np.mean([w not in title_vocab for w in tokens])
    assert 0.1 < unseen < 0.8


def test_typo_changes_a_word_but_keeps_it_close():
    out = {typo("sneakers", k, p) for k in (0.1, 0.5, 0.9) for p in (0.2, 0.8)}
    assert "sneakers" not in out
    assert all(abs(len(w) - len("sneakers")) <= 1 for w in out)


def _attributes(rng, n, open_share=0.0):
    from adsim.core.taxonomy import LEAF_TOP, LEAVES, N_PRICE_TIERS, PATTERNS, STYLES, COLOURS

    def some(values):  # -1 (not stated) for a share of rows
        return np.where(rng.random(n) < open_share, -1, values).astype(values.dtype)

    leaf = rng.integers(0, len(LEAVES), n).astype(np.int16)
    cols = (rng.integers(0, len(COLOURS), n).astype(np.int8), rng.integers(0, len(PATTERNS), n).astype(np.int8),
            rng.integers(0, len(STYLES), n).astype(np.int8), rng.integers(0, 240, n).astype(np.int16),
            rng.integers(0, N_PRICE_TIERS, n).astype(np.int8))
    return leaf, LEAF_TOP[leaf], tuple(some(c) for c in cols)


@pytest.mark.parametrize("n", [0, 1, 7, 5000])
def test_vectorised_text_is_the_reference_loop_string_for_string(n):
    from adsim.core.taxonomy import brand_names
    from adsim.world import text
    from tests.world import text_reference as reference

    rng = np.random.default_rng(n)
    names = np.array(brand_names(240, rng), dtype=object)
    leaf, top, (colour, pattern, style, brand, tier) = _attributes(rng, n)
    title_args = (leaf, top, colour, pattern, style, brand, tier, names)
    new, old = (m.make_titles(*title_args, np.random.default_rng(1)) for m in (text, reference))
    assert new.dtype == object and new.tolist() == old.tolist()
    leaf_q = np.where(rng.random(n) < 0.2, -1, leaf).astype(np.int16)  # image queries say nothing
    _, _, stated = _attributes(rng, n, open_share=0.5)
    query_args = (leaf_q, *stated, names)
    new, old = (m.make_query_texts(*query_args, np.random.default_rng(2)) for m in (text, reference))
    assert new.tolist() == old.tolist()
    assert (new[leaf_q < 0] == "").all()
