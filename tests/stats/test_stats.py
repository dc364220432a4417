import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from adsim.stats.model_metrics import auc, calibration, group_auc, log_loss
from adsim.stats.bootstrap import bootstrap_weights
from adsim.stats.lifts import RatioMetric, minimum_detectable_effect, paired_lift, unpaired_ci_width


def test_auc_matches_sklearn_with_ties():
    rng = np.random.default_rng(0)
    y = rng.random(2000) < 0.3
    s = np.round(rng.random(2000) + 0.3 * y, 1)  # coarse scores: many ties
    assert auc(y, s) == pytest.approx(roc_auc_score(y, s))
    assert np.isnan(auc(np.ones(5), np.arange(5)))


def test_group_auc_is_weighted_mean_of_per_group_auc():
    rng = np.random.default_rng(1)
    g = rng.integers(0, 30, 3000)
    y = rng.random(3000) < 0.2
    s = rng.random(3000) + 0.5 * y * (g % 2)
    want, weights = [], []
    for k in range(30):
        m = g == k
        if 0 < y[m].sum() < m.sum():
            want.append(roc_auc_score(y[m], s[m]))
            weights.append(m.sum())
    assert group_auc(y, s, g) == pytest.approx(np.average(want, weights=weights))


def test_log_loss_and_calibration():
    y = np.array([1, 0, 0, 0])
    assert log_loss(y, np.full(4, 0.25)) == pytest.approx(-(np.log(0.25) + 3 * np.log(0.75)) / 4)
    assert calibration(y, np.full(4, 0.5)) == pytest.approx(2.0)


def _metric(rng, n, rate):
    den = rng.integers(1, 20, n).astype(float)
    return RatioMetric(num=rng.binomial(den.astype(int), rate).astype(float), den=den)


def test_paired_lift_detects_a_real_effect_and_not_a_null_one():
    rng = np.random.default_rng(2)
    n = 3000
    weights = bootstrap_weights(0, n, 500)
    control = _metric(rng, n, 0.05)
    same = paired_lift(control, control, weights)
    assert same.relative == 0 and same.ci_low <= 0 <= same.ci_high and same.p_value == 1.0
    treated = RatioMetric(num=control.num + rng.binomial(control.den.astype(int), 0.01), den=control.den)
    lift = paired_lift(control, treated, weights)
    assert lift.ci_low > 0 and lift.p_value < 0.01
    assert lift.ci_low < lift.relative < lift.ci_high
    true_rel = treated.num.sum() / control.num.sum() - 1
    assert lift.relative == pytest.approx(true_rel)


def test_pairing_narrows_the_ci_when_arms_are_correlated():
    rng = np.random.default_rng(1)
    users = 2000
    base = rng.gamma(2.0, 1.0, users)  # per-user heterogeneity shared by both arms
    control = RatioMetric(num=rng.poisson(base), den=np.full(users, 10.0))
    treatment = RatioMetric(num=rng.poisson(base * 1.05), den=np.full(users, 10.0))
    lift = paired_lift(control, treatment, bootstrap_weights(0, users, 500))
    assert lift.ci_high - lift.ci_low < unpaired_ci_width(control, treatment, 0, 500)
    assert minimum_detectable_effect(lift.se_relative) == pytest.approx(2.8016 * lift.se_relative, rel=1e-3)


def test_position_only_model_and_group_intervals():
    from adsim.stats.model_metrics import auc_interval, log_loss, position_only_log_loss, ratio_interval
    rng = np.random.default_rng(3)
    pos = rng.integers(0, 4, 20_000)
    click = rng.random(20_000) < np.array([0.08, 0.05, 0.03, 0.02])[pos]
    ll = position_only_log_loss(pos[:10_000], click[:10_000], pos[10_000:], click[10_000:])
    assert ll < log_loss(click[10_000:], np.full(10_000, click[:10_000].mean()))  # the slot carries information
    users = rng.integers(0, 500, 20_000)
    lo, hi = ratio_interval(np.full(20_000, click.mean()), click, users, seed=0)
    assert lo < 1 < hi and hi - lo < 0.3
    score = click + rng.normal(0, 1, 20_000)
    lo, hi = auc_interval(click, score, users, seed=0)
    assert 0.5 < lo < auc(click, score) < hi


def _consistent(lift, alpha=0.05) -> bool:
    excludes = lift.abs_ci_low > 0 or lift.abs_ci_high < 0
    return (lift.p_value < alpha) == excludes == lift.significant


@pytest.mark.parametrize("case", ["zero_control", "zero_treatment", "sparse", "one_user", "identical", "random"])
def test_p_value_agrees_with_the_absolute_ci(case):
    rng = np.random.default_rng(7)
    n = 400
    weights = bootstrap_weights(3, n, 500)
    den = rng.integers(1, 5, n).astype(float)
    control = RatioMetric(num=rng.binomial(den.astype(int), 0.2).astype(float), den=den)
    if case == "zero_control":  # e.g. a slice where the control serves no ads: relative lift undefined
        treatment, control = control, RatioMetric(num=np.zeros(n), den=den)
    elif case == "zero_treatment":
        treatment = RatioMetric(num=np.zeros(n), den=den)
    elif case == "sparse":  # a handful of users with any activity
        mask = np.zeros(n)
        mask[:6] = 1
        control = RatioMetric(num=control.num * mask, den=den * mask)
        treatment = RatioMetric(num=(control.num + mask), den=den * mask)
    elif case == "one_user":
        mask = np.eye(n)[0]
        control, treatment = RatioMetric(num=mask, den=2 * mask), RatioMetric(num=2 * mask, den=2 * mask)
    elif case == "identical":
        treatment = control
    else:
        treatment = RatioMetric(num=control.num + rng.binomial(1, 0.02, n), den=den)
    lift = paired_lift(control, treatment, weights)
    assert _consistent(lift)
    if case == "zero_control":
        assert np.isnan(lift.relative) and lift.abs_ci_low > 0 and lift.p_value < 0.05
    if case == "identical":
        assert lift.p_value == 1.0 and not lift.significant


def test_p_value_agrees_with_the_ci_over_many_borderline_effects():
    rng = np.random.default_rng(11)
    n = 300
    weights = bootstrap_weights(5, n, 200)
    den = np.full(n, 4.0)
    control = RatioMetric(num=rng.binomial(4, 0.2, n).astype(float), den=den)
    agree = []
    for effect in np.linspace(0, 0.08, 40):  # sweeps through the significance boundary
        treatment = RatioMetric(num=control.num + rng.binomial(1, effect, n), den=den)
        agree.append(_consistent(paired_lift(control, treatment, weights)))
    assert all(agree)


def test_group_bootstrap_by_multiplicities_is_the_concatenated_resample():
    """The AUC draws weigh each user by how often a resample drew them: the same numbers as the AUC
    of the resample's rows laid end to end, ties included."""
    from adsim.core.rng import generator
    from adsim.stats.model_metrics import _group_multiplicities, weighted_auc_draws
    rng = np.random.default_rng(1)
    users, click = rng.integers(0, 300, 5000), rng.random(5000) < 0.1
    score = np.round(click + rng.normal(0, 1, 5000), 1)  # many ties
    _, g = np.unique(users, return_inverse=True)
    members = np.split(np.argsort(g, kind="stable"), np.cumsum(np.bincount(g))[:-1])
    draw = generator(0, "group-bootstrap")
    want = []
    for _ in range(20):
        rows = np.concatenate([members[i] for i in draw.integers(0, len(members), len(members))])
        want.append(auc(click[rows], score[rows]))
    got = weighted_auc_draws(click, score, *_group_multiplicities(users, 0, 20))
    assert np.allclose(got, want, rtol=0, atol=1e-12)
