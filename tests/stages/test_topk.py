"""Packed-key row top-k: the order of a stable argsort of -scores, ties and signs included."""

import numpy as np
import pytest

from stages.topk import row_top_k


def _reference(scores: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize("k", [1, 5, 64, 200, 500])
def test_row_top_k_is_a_stable_descending_argsort(k):
    rng = np.random.default_rng(0)
    s = rng.normal(size=(300, 200)).astype(np.float32)
    s[rng.random(s.shape) < 0.3] = -np.inf
    s[:, 7] = s[:, 3]                           # ties go to the lower column
    s[:20] = np.round(s[:20])                   # many ties
    s[20, :4] = [0.0, -0.0, -0.0, 0.0]          # signed zeros compare equal
    s[21] = -np.inf                             # nothing valid
    assert np.array_equal(row_top_k(s, k), _reference(s, k))


def test_row_top_k_handles_empty_and_bad_input():
    assert row_top_k(np.zeros((3, 4), np.float32), 0).shape == (3, 0)
    assert row_top_k(np.zeros((0, 4), np.float32), 2).shape == (0, 2)
    with pytest.raises(ValueError, match="shape"):
        row_top_k(np.zeros(4, np.float32), 2)
