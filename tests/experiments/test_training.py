import numpy as np

from adsim.experiments.protocol import is_holdout
from adsim.experiments.training import training_sample


def test_training_sample_keeps_whole_requests_at_the_cap():
    req = np.repeat(np.arange(50_000), 4)  # four slots a request
    hold = is_holdout(7, req)
    keep = training_sample(7, req, hold, 60_000)
    kept = keep & ~hold
    assert abs(kept.sum() - 60_000) < 2_000  # about the cap, by hash
    assert (keep.reshape(-1, 4).all(1) | ~keep.reshape(-1, 4).any(1)).all()  # a request's slots stay together
    assert np.array_equal(keep, training_sample(7, req, hold, 60_000))  # seeded
    assert training_sample(7, req, hold, 0).all() and training_sample(7, req, hold, 10**9).all()
