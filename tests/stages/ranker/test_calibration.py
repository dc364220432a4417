"""Platt scaling recovers a known miscalibration and stays near the identity on little data."""

import numpy as np
import pytest

from stages.ranker.calibration import platt_apply, platt_fit


def test_platt_recovers_a_known_slope_and_offset():
    rng = np.random.default_rng(0)
    logits = rng.normal(-2, 1.5, 200_000)
    clicks = rng.random(len(logits)) < 1 / (1 + np.exp(-(0.6 * logits - 0.8)))
    a, b = platt_fit(logits, clicks, ridge=0.0)
    assert a == pytest.approx(0.6, abs=0.02) and b == pytest.approx(-0.8, abs=0.04)
    p = platt_apply(logits, (a, b))
    assert p.mean() == pytest.approx(clicks.mean(), rel=0.02)


def test_the_ridge_keeps_a_tiny_slice_near_the_identity():
    logits = np.array([-3.0, -2.0, -1.0, 0.5])
    a, b = platt_fit(logits, np.array([0, 0, 0, 1]), ridge=1.0)
    assert abs(a - 1) < 1 and abs(b) < 1
    assert platt_fit(np.zeros(0), np.zeros(0)) == (1.0, 0.0)


def test_calibration_never_reorders_scores():
    logits = np.linspace(-4, 0, 50)
    clicks = logits < -3.5  # the data say "lower is better": the fit flattens but keeps the order
    a, _ = platt_fit(logits, clicks, ridge=0.0)
    assert a > 0 and (np.diff(platt_apply(logits, (a, 0.0))) >= 0).all()
