"""Behaviour sequences carry real signal about their user (under the ground truth)."""

import numpy as np

from adsim.core.tables import take
from adsim.core.taxonomy import COLOURS, LEAVES
from adsim.truth.ground_truth import attractiveness

MIN_PRIOR = 5


def prefix_features(history, items):
    """For each event with >= MIN_PRIOR earlier events of its user: counts and mean taste of those."""
    user = history.user_id
    start = np.r_[0, np.flatnonzero(user[1:] != user[:-1]) + 1]
    first_of = np.repeat(start, np.diff(np.r_[start, len(user)]))
    n_prior = np.arange(len(user)) - first_of
    rows = np.flatnonzero(n_prior >= MIN_PRIOR)

    def prefix_sum(values):
        c = np.vstack([np.zeros((1,) + values.shape[1:]), np.cumsum(values, 0)])
        return c[rows] - c[first_of[rows]]

    clicked = history.item_id
    leaf_counts = prefix_sum(np.eye(len(LEAVES))[items.leaf[clicked]])
    colour_counts = prefix_sum(np.eye(len(COLOURS))[items.colour[clicked]])
    taste = prefix_sum(items.taste[clicked].astype(np.float64)) / n_prior[rows, None]
    return rows, leaf_counts, colour_counts, taste


def test_sequence_predicts_next_category_better_than_popularity(smoke_world):
    h, items = smoke_world.history, smoke_world.items
    rows, leaf_counts, _, _ = prefix_features(h, items)
    leaf = items.leaf[h.item_id[rows]]
    acc_seq = (np.argmax(leaf_counts, 1) == leaf).mean()
    acc_pop = (np.argmax(np.bincount(items.leaf[h.item_id], minlength=len(LEAVES))) == leaf).mean()
    assert acc_seq > 0.12 and acc_seq > 4 * acc_pop, (acc_seq, acc_pop)


def test_sequence_predicts_which_shown_item_gets_clicked(smoke_world):
    """Within a session (one leaf), the shown item most like the user's past clicks is clicked most."""
    w = smoke_world
    h, items = w.history, w.items
    rows, _, colour_counts, taste = prefix_features(h, items)
    shown = h.shown[rows]
    score = (np.einsum("nd,nkd->nk", taste, items.taste[shown])
             + 0.05 * np.take_along_axis(colour_counts, items.colour[shown].astype(np.int64), 1))
    pick = np.argmax(score, 1)
    hit = (shown[np.arange(len(rows)), pick] == h.item_id[rows]).mean()
    chance = np.mean([1 / len(set(s)) for s in shown])
    assert hit > 1.4 * chance, (hit, chance)
    # The ground truth agrees: the history-preferred item is more attractive than the average shown one.
    attr = attractiveness(w.users, h.user_id[rows], take(h.intent, rows), items, shown)
    assert attr[np.arange(len(rows)), pick].mean() > 1.15 * attr.mean()
