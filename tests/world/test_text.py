import numpy as np

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
