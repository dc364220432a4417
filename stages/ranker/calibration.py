"""Platt scaling: p = sigmoid(a * logit + b), fitted by ridge-penalised maximum likelihood.

The CTR ranker's raw scores are ranked well but their level drifts with the seed and the
position bias it learnt; the auction prices by pCTR, so the ranker's scores are mapped to
probabilities that match the clicks of its logs (adsim.runs.training). The ridge pulls
(a, b) towards the identity (1, 0), which keeps logs with few clicks from producing a wild fit.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

MIN_SLOPE = 1e-3


def platt_fit(logits: np.ndarray, labels: np.ndarray, ridge: float = 1.0) -> tuple[float, float]:
    """(a >= MIN_SLOPE, b) minimising the log-loss of sigmoid(a * logit + b) plus ridge * ((a - 1)^2 + b^2)."""
    x = np.asarray(logits, np.float64)
    y = np.asarray(labels, np.float64)
    if len(x) == 0:
        return 1.0, 0.0

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = w[0] * x + w[1]
        nll = np.sum(np.logaddexp(0, z) - y * z)  # stable for any logit
        r = np.array([w[0] - 1, w[1]])
        p = np.exp(-np.logaddexp(0, -z))
        grad = np.array([np.sum((p - y) * x), np.sum(p - y)]) + 2 * ridge * r
        return nll + ridge * float(r @ r), grad

    # a > 0: calibration rescales the ranker's scores but never reorders them.
    result = minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B", bounds=[(MIN_SLOPE, None), (None, None)])
    return float(result.x[0]), float(result.x[1])


def platt_apply(logits: np.ndarray, ab: tuple[float, float]) -> np.ndarray:
    """Calibrated probabilities of raw logits."""
    a, b = ab
    return np.exp(-np.logaddexp(0, -(a * np.asarray(logits, np.float64) + b))).astype(np.float32)
