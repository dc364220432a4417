"""GSP properties on random inputs: order, prices, reserve and bid bounds, budget stop."""

import numpy as np
import pytest

from stages.auction import budget_eligible, charge, rank_scores, run_gsp


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0, 2.0])
def test_gsp_properties_on_random_inputs(alpha):
    rng = np.random.default_rng(int(alpha * 10))
    r, c, slots, reserve = 500, 12, 4, 0.1
    bid = rng.lognormal(-1, 0.8, (r, c)).astype(np.float32)
    pctr = rng.uniform(0.001, 0.2, (r, c)).astype(np.float32)
    valid = rng.random((r, c)) < 0.7
    res = run_gsp(bid, pctr, valid, slots, alpha, reserve)
    score = np.where(valid & (bid >= reserve), rank_scores(bid, pctr, alpha), -np.inf)
    for i in range(r):
        eligible = np.flatnonzero(np.isfinite(score[i]))
        expect = eligible[np.argsort(-score[i, eligible], kind="stable")][:slots]
        won = res.winner[i][res.winner[i] >= 0]
        assert np.array_equal(np.sort(score[i, won])[::-1], score[i, won])    # allocation order
        assert np.allclose(score[i, won], score[i, expect])                  # the best ads win
        assert (res.winner[i][len(won):] == -1).all()                         # empty slots are last
        for s, w in enumerate(won):
            price = res.price[i, s]
            assert reserve - 1e-6 <= price <= bid[i, w] + 1e-6               # reserve <= price <= bid
            runner = eligible[np.argsort(-score[i, eligible], kind="stable")]
            if s + 1 < len(runner):
                nxt = runner[s + 1]
                want = max(reserve, bid[i, nxt] * pctr[i, nxt] ** alpha / pctr[i, w] ** alpha)
                assert price == pytest.approx(min(want, bid[i, w]), rel=1e-4)
            else:
                assert price == pytest.approx(reserve)
        # Paying the price keeps the slot: price x pCTR^alpha >= next rank score.
        if len(won) >= 2 and alpha > 0:
            assert res.price[i, 0] * pctr[i, won[0]] ** alpha >= score[i, won[1]] * (1 - 1e-4) or res.price[i, 0] == pytest.approx(bid[i, won[0]])
    assert (res.price[res.winner < 0] == 0).all()


def test_bids_below_reserve_never_win():
    bid = np.array([[0.05, 0.2, 0.01]], dtype=np.float32)
    pctr = np.array([[0.9, 0.01, 0.9]], dtype=np.float32)
    res = run_gsp(bid, pctr, np.ones_like(bid, dtype=bool), n_slots=3, alpha=1.0, reserve=0.1)
    assert res.winner.tolist() == [[1, -1, -1]]
    assert res.price[0, 0] == pytest.approx(0.1)


def test_budget_stops_an_advertiser_once_spent():
    budget = np.array([1.0, 5.0], dtype=np.float32)
    spent = np.zeros(2, dtype=np.float32)
    advertiser = np.array([0, 0, 1])
    assert budget_eligible(advertiser, spent, budget).all()
    charge(spent, np.array([0, 0, 1]), np.array([0.6, 0.5, 1.0], dtype=np.float32))
    assert spent.tolist() == pytest.approx([1.1, 1.0])
    assert budget_eligible(advertiser, spent, budget).tolist() == [False, False, True]


@pytest.mark.parametrize("bid, pctr, valid", [
    ((3, 5), (3, 4), (3, 5)),   # pCTR for fewer candidates
    ((3, 5), (3, 5), (5, 3)),   # a transposed mask
    ((15,), (15,), (15,)),      # not a batch of requests
    ((2, 3, 4), (2, 3, 4), (2, 3, 4)),
])
def test_gsp_refuses_mismatched_shapes(bid, pctr, valid):
    with pytest.raises(ValueError, match="must share one"):
        run_gsp(np.ones(bid, np.float32), np.full(pctr, 0.1, np.float32), np.ones(valid, bool), 2, 1.0, 0.05)
