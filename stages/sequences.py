"""Users' behaviour sequences as the ad system sees them: logged clicks, most recent last.

Built from the world's history (clicks before day 0). Rows are left-padded with -1 so `seq[:, -k:]` are the k most recent items.
"""

from __future__ import annotations

import numpy as np


def left_padded(user_ids: np.ndarray, item_ids: np.ndarray, n_users: int, max_len: int) -> np.ndarray:
    """(n_users, max_len) int32: each user's last `max_len` items in time order, left-padded.

    `user_ids`/`item_ids` must be sorted by (user, time).
    """
    out = np.full((n_users, max_len), -1, dtype=np.int32)
    if len(user_ids) == 0:
        return out
    counts = np.bincount(user_ids, minlength=n_users)
    ends = np.cumsum(counts)
    # Position from the end of each user's run: 0 for the most recent.
    from_end = ends[user_ids] - 1 - np.arange(len(user_ids))
    keep = from_end < max_len
    out[user_ids[keep], max_len - 1 - from_end[keep]] = item_ids[keep]
    return out


def right_padded(seq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same sequences right-padded with -1 (time order from column 0) and their lengths."""
    valid = seq >= 0
    out = np.full(seq.shape, -1, dtype=seq.dtype)
    # Each item moves to its rank among its row's items: a scatter, no argsort.
    out[np.nonzero(valid)[0], (np.cumsum(valid, axis=1) - 1)[valid]] = seq[valid]
    return out, valid.sum(1)


def causal_click_sequences(user: np.ndarray, time: np.ndarray, item: np.ndarray, click: np.ndarray,
                           max_len: int) -> np.ndarray:
    """(n, max_len) int32: for each logged row, the same user's last `max_len` clicked items strictly
    before its time, left-padded with -1. Rows must be sorted by (user, time); vectorised: a row's
    sequence is a window of the global list of clicks ending at the clicks before its (user, time)."""
    n = len(user)
    out = np.full((n, max_len), -1, dtype=np.int32)
    clicked = np.flatnonzero(click)
    if n == 0 or len(clicked) == 0:
        return out
    idx = np.arange(n)
    new_user = np.r_[True, user[1:] != user[:-1]]
    new_moment = new_user | np.r_[True, time[1:] != time[:-1]]
    before = np.r_[0, np.cumsum(click != 0)]  # clicks in rows [0, i)
    upto = before[np.maximum.accumulate(np.where(new_moment, idx, 0))]  # clicks before the row's (user, time)
    user_first = before[np.maximum.accumulate(np.where(new_user, idx, 0))]  # clicks before the user's first row
    pos = upto[:, None] - max_len + np.arange(max_len)[None]
    valid = pos >= user_first[:, None]
    out[valid] = item[clicked[pos[valid]]]
    return out


def _dense_ranks(*arrays: np.ndarray) -> list[np.ndarray]:
    """Each array's values as ranks 0..k-1 over the values of all of them (equal values, equal rank)."""
    _, inverse = np.unique(np.concatenate(arrays), return_inverse=True)
    return np.split(inverse.astype(np.int64), np.cumsum([len(a) for a in arrays])[:-1])


def events_before(group: np.ndarray, time: np.ndarray, ev_group: np.ndarray, ev_time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows (group, time) and events sorted by (group, time): the first event of the row's group
    and the first event of its group at or after its time, as indices into the events. Groups and
    times become ranks over rows and events, so one int64 key orders both (ranks < 2^31)."""
    g, eg = _dense_ranks(group, ev_group)
    t, et = _dense_ranks(time, ev_time)
    width = int(max(t.max(initial=0), et.max(initial=0))) + 1
    ev_key = eg * width + et
    return np.searchsorted(ev_key, g * width, "left"), np.searchsorted(ev_key, g * width + t, "left")


def causal_windows(user: np.ndarray, time: np.ndarray, ev_user: np.ndarray, ev_time: np.ndarray,
                   max_len: int) -> np.ndarray:
    """(n, max_len) int64: for each row, the indices of the same user's last `max_len` events strictly
    before its time, oldest first, left-padded with -1. Events must be sorted by (user, time); rows
    may come in any order. A causal join by time, vectorised (tested against a loop)."""
    if len(ev_user) == 0 or len(user) == 0:
        return np.full((len(user), max_len), -1, np.int64)
    return windows(*events_before(user, time, ev_user, ev_time), max_len)


def windows(first: np.ndarray, end: np.ndarray, max_len: int) -> np.ndarray:
    """(n, max_len) the last `max_len` indices of each [first, end), left-padded with -1."""
    idx = end[:, None] - max_len + np.arange(max_len)[None]
    return np.where(idx >= first[:, None], idx, -1)


def causal_counts(user: np.ndarray, time: np.ndarray, ev_user: np.ndarray, ev_time: np.ndarray,
                  key: np.ndarray | None = None, ev_key: np.ndarray | None = None) -> np.ndarray:
    """(n,) how many of the same user's events came strictly before each row's time, counting only
    events whose `ev_key` equals the row's `key` where keys are given (e.g. the ad's category).
    Events must be sorted by (user, time)."""
    if len(ev_user) == 0 or len(user) == 0:
        return np.zeros(len(user), np.int64)
    if key is None:
        first, end = events_before(user, time, ev_user, ev_time)
        return end - first
    pair, ev_pair = _dense_ranks(user.astype(np.int64) * (1 << 31) + key, ev_user.astype(np.int64) * (1 << 31) + ev_key)
    order = np.lexsort((ev_time, ev_pair))
    first, end = events_before(pair, time, ev_pair[order], ev_time[order])
    return end - first
