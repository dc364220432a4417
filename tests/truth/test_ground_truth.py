import numpy as np

from adsim.core.tables import take
from adsim.truth.ground_truth import attractiveness, click_probability, examination, relevance


def test_target_is_fully_relevant_and_other_categories_are_not(smoke_world):
    req, items = smoke_world.requests, smoke_world.items
    grade = relevance(req.intent, items, req.intent.target)
    assert (grade == 3).all()
    rng = np.random.default_rng(0)
    others = rng.integers(0, len(items.item_id), (len(req.request_id), 20))
    g = relevance(req.intent, items, others)
    other_top = items.top[others] != items.top[req.intent.target][:, None]
    assert (g[other_top] == 0).all()
    assert set(np.unique(g)) == {0, 1, 2, 3}


def test_attractiveness_rises_with_relevance(smoke_world):
    w = smoke_world
    req = take(w.requests, np.arange(500))
    rng = np.random.default_rng(1)
    same_leaf = np.flatnonzero(np.isin(w.items.leaf, np.unique(req.intent.leaf)))
    cand = rng.choice(same_leaf, (500, 40))
    grade = relevance(req.intent, w.items, cand)
    attr = attractiveness(w.users, req.user_id, req.intent, w.items, cand)
    means = [attr[grade == g].mean() for g in range(4) if (grade == g).any()]
    assert all(np.diff(means) > 0), means
    assert 0 < attr.min() and attr.max() < 1


def test_examination_and_click_probability():
    ex = examination(np.arange(4), 0.8)
    assert ex[0] == 1 and (np.diff(ex) < 0).all()
    assert examination(np.arange(4), 0.0).tolist() == [1, 1, 1, 1]


def test_click_probability_is_position_times_attractiveness(smoke_world):
    w = smoke_world
    req = take(w.requests, np.arange(100))
    cand = np.stack([req.intent.target] * 4, 1)
    pos = np.arange(4)[None].repeat(100, 0)
    ctr = click_probability(w.users, req.user_id, req.intent, w.items, cand, pos, 0.8)
    attr = attractiveness(w.users, req.user_id, req.intent, w.items, cand)
    assert np.allclose(ctr, attr * examination(pos, 0.8))
