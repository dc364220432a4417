"""Behaviour sequences as the system sees them."""

import numpy as np

from stages.sequences import causal_click_sequences, causal_counts, causal_windows, left_padded, right_padded


def test_right_padded_keeps_time_order_and_counts_items():
    rng = np.random.default_rng(0)
    seq = rng.integers(0, 50, (40, 9)).astype(np.int32)
    seq[rng.random(seq.shape) < 0.4] = -1       # gaps anywhere, not only on the left
    out, n = right_padded(seq)
    order = np.argsort(seq < 0, axis=1, kind="stable")
    assert np.array_equal(out, np.where(np.take_along_axis(seq, order, 1) >= 0, np.take_along_axis(seq, order, 1), -1))
    assert np.array_equal(n, (seq >= 0).sum(1)) and out.dtype == seq.dtype


def test_left_padded_keeps_the_most_recent_items():
    seq = left_padded(np.array([0, 0, 0, 2]), np.array([5, 6, 7, 9]), n_users=3, max_len=2)
    assert seq.tolist() == [[6, 7], [-1, -1], [-1, 9]]


def test_causal_click_sequences_match_a_loop_over_rows():
    rng = np.random.default_rng(3)
    n = 400
    user = np.sort(rng.integers(0, 20, n))
    time = np.zeros(n, np.int64)
    for u in np.unique(user):
        time[user == u] = np.sort(rng.integers(0, 30, (user == u).sum()))  # ties in time on purpose
    item, click = rng.integers(0, 100, n), rng.random(n) < 0.4
    got = causal_click_sequences(user, time, item, click, 5)
    for i in range(n):  # the definition: the user's clicks strictly before the row's time, last five
        past = [item[j] for j in range(n) if user[j] == user[i] and time[j] < time[i] and click[j]][-5:]
        assert got[i].tolist() == [-1] * (5 - len(past)) + past


def _events(rng, m, users, times):
    ev_user, ev_time, ev_key = rng.integers(0, users, m), rng.integers(0, times, m), rng.integers(0, 3, m)
    order = np.lexsort((ev_time, ev_user))
    return ev_user[order], ev_time[order], ev_key[order]


def test_causal_windows_and_counts_match_a_loop_over_rows():
    rng = np.random.default_rng(0)
    for _ in range(40):
        ev_user, ev_time, ev_key = _events(rng, int(rng.integers(0, 60)), 6, 20)
        n = int(rng.integers(0, 40))
        user, time, key = rng.integers(0, 7, n), rng.integers(0, 22, n), rng.integers(0, 4, n)
        win = causal_windows(user, time, ev_user, ev_time, 4)
        total = causal_counts(user, time, ev_user, ev_time)
        same = causal_counts(user, time, ev_user, ev_time, key, ev_key)
        for i in range(n):
            before = [j for j in range(len(ev_user)) if ev_user[j] == user[i] and ev_time[j] < time[i]]  # strictly before
            assert win[i].tolist() == ([-1] * 4 + before)[-4:]
            assert total[i] == len(before) and same[i] == sum(ev_key[j] == key[i] for j in before)


def test_an_event_at_the_rows_own_time_is_not_before_it():
    ev_user, ev_time = np.array([1, 1, 1]), np.array([5, 10, 10])
    assert causal_windows(np.array([1, 1]), np.array([10, 11]), ev_user, ev_time, 3).tolist() == [[-1, -1, 0], [0, 1, 2]]
    assert causal_counts(np.array([2]), np.array([99]), ev_user, ev_time).tolist() == [0]  # another user's events
