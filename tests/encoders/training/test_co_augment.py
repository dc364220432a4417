"""MOON2.0's textual co-augmentation: titles that miss an attribute their image shows gain it;
titles that state it, and the listings the system serves, are left alone."""

import numpy as np

from adsim.core.taxonomy import COLOUR_WORDS, COLOURS, PATTERN_WORDS
from encoders.training.co_augment import enriched_view, stated


def test_titles_are_read_by_their_title_forms_as_whole_words():
    titles = np.array(["crimson tee", "navy top", "tank top", "turquoise dress", "plain bag"], dtype=object)
    got = stated(titles, COLOUR_WORDS)
    assert [COLOURS[g] if g >= 0 else None for g in got] == ["red", "navy", None, "teal", None]  # "tank" is not "tan"
    assert stated(np.array(["striped shirt"], dtype=object), PATTERN_WORDS)[0] >= 0


def test_enrichment_adds_what_the_image_shows_and_leaves_complete_titles_alone(smoke_world):
    view = smoke_world.view
    original = view.items.title.copy()
    enriched, report = enriched_view(view, 0.8, seed=0)
    assert (view.items.title == original).all()  # training sees the enriched titles; the served listings are untouched
    ids = np.flatnonzero(view.items.listed_day <= 0)
    titles, new = original[ids], enriched.items.title[ids]
    before_c, after_c = stated(titles, COLOUR_WORDS), stated(new, COLOUR_WORDS)
    complete = (before_c >= 0) & (stated(titles, PATTERN_WORDS) >= 0)
    assert (new[complete] == titles[complete]).all()
    gained = (before_c < 0) & (after_c >= 0)
    truth = smoke_world.items.colour[ids]  # the test may read the answer; the head never does
    assert gained.sum() >= 100 and (after_c[gained] == truth[gained]).mean() > 0.9
    assert report.enriched["colour"] == gained.sum() and report.head_accuracy["colour"] > 0.7
    assert all(str(n).startswith(str(t)) for n, t in zip(new, titles))  # words are added, never removed
