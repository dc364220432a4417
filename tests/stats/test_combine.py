"""Combining replicates: the t-interval over replicates is calibrated whatever the training noise."""

import numpy as np
import pytest

from adsim.stats.combine import combine


@pytest.mark.parametrize("replicates", [3, 5])
@pytest.mark.parametrize("training_sd", [0.0, 1.0, 3.0])
def test_combined_ci_rejects_a_true_null_at_its_level(replicates, training_sd):
    rng = np.random.default_rng(replicates * 10 + int(training_sd))
    rejected = []
    for _ in range(1500):
        lifts = rng.normal(0, 1, replicates) + rng.normal(0, training_sd, replicates)  # click + training noise
        c = combine(lifts, np.ones(replicates))
        assert (c.p_value < 0.05) == (c.ci_low > 0 or c.ci_high < 0)
        rejected.append(c.p_value < 0.05)
    assert 0.03 <= np.mean(rejected) <= 0.07  # binomial sd 0.0056 around 0.05


def test_combined_fields():
    c = combine(np.array([0.10, 0.14, 0.12]), np.array([0.02, 0.03, 0.02]))
    assert c.mean == pytest.approx(0.12) and c.between_sd == pytest.approx(0.02) and c.df == 2
    assert c.within_se == pytest.approx(np.sqrt((0.02 ** 2 * 2 + 0.03 ** 2) / 3))
    assert c.ci_low < 0.12 < c.ci_high and c.mde_mean < c.mde_single_run
    assert combine(np.zeros(3), np.ones(3)).p_value == 1.0
    with pytest.raises(ValueError, match="at least 2"):
        combine(np.array([0.1]), np.array([0.01]))
