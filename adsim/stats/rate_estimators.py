"""Slope estimators for an exchange rate through the control, vectorised over bootstrap draws.

Every variant gives a point (x = its change of an intermediate metric over the control, z = its
downstream lift on the log-ratio scale). Both coordinates are measured with noise whose size the
bootstraps know: x from the held-out queries, z from the users who were served. A regression
of z on noisy x is attenuated towards zero by the share of x's spread that is noise (Fuller,
"Measurement Error Models"; Bibaut et al., KDD'24, for effects across many experiments). Three
estimators, each a pure function of arrays whose leading axes are draws:

- `wls`: weighted least squares through the origin, the reference: sum(w x z) / sum(w x^2).
- `tc`: total covariance: the noise's share subtracted from the cross and square sums,
  [sum(w x z) - sum(w cov_noise(x, z))] / [sum(w x^2) - sum(w var_noise(x))]. The held-out queries'
  queries are never served, so the noise of x and of z is independent and the cross term is zero.
- `york`: errors in both coordinates, York et al. (2004) through the origin: each point weighted by
  1 / (var_z + slope^2 var_x), its true x estimated, iterated to the fixed point.

A variant's own scatter about the line grows with how far it moves the metric (tau2 |x|^power,
power 1), and its measurement noise is the bootstraps'; `wls` and `tc` weight each point by the
inverse of the two together (`precision_weights`), `york` adds the scatter to var_z.
"""

from __future__ import annotations

import numpy as np

ESTIMATORS = ("tc", "york", "wls")
MIN_RELIABILITY = 0.05  # tc's denominator is floored at this share of sum(w x^2): a metric that is all noise
YORK_ITERATIONS = 30


def weights(x: np.ndarray, power: float) -> np.ndarray:
    """1 / |x|^power per variant; a variant that does not move the metric gets the largest finite weight."""
    ax = np.abs(x)
    moving = ax[ax > 0]
    floor = max(moving.min() if moving.size else 1.0, 1e-9)
    return 1.0 / np.maximum(ax, floor) ** power


def wls_slope(x: np.ndarray, z: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted least squares through the origin over the last axis (NaN where no variant moves)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (w * x * z).sum(-1) / (w * x * x).sum(-1)


def reliability(x: np.ndarray, w: np.ndarray, var_x: np.ndarray) -> np.ndarray:
    """The share of the variants' weighted spread of x (about the control) that is signal, not noise."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 - (w * var_x).sum(-1) / (w * x * x).sum(-1)


def tc_slope(x: np.ndarray, z: np.ndarray, w: np.ndarray, var_x: np.ndarray) -> np.ndarray:
    """Total-covariance slope: the attenuation by x's noise removed (its cross term with z is zero)."""
    sxx = (w * x * x).sum(-1)
    denominator = np.maximum(sxx - (w * var_x).sum(-1), MIN_RELIABILITY * sxx)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (w * x * z).sum(-1) / denominator


def york_slope(x: np.ndarray, z: np.ndarray, var_x: np.ndarray, var_z: np.ndarray, start: np.ndarray) -> np.ndarray:
    """York's errors-in-variables slope through the origin, iterated from `start` (one per draw):
    W = 1 / (var_z + b^2 var_x), xi = x + W b var_x (z - b x), b = sum(W xi z) / sum(W xi x)."""
    b = np.asarray(start, np.float64)
    for _ in range(YORK_ITERATIONS):
        bb = b[..., None]
        W = 1.0 / np.maximum(var_z + bb * bb * var_x, 1e-300)
        xi = x + W * bb * var_x * (z - bb * x)
        with np.errstate(divide="ignore", invalid="ignore"):
            b = (W * xi * z).sum(-1) / (W * xi * x).sum(-1)
    return b


def slope(estimator: str, x: np.ndarray, z: np.ndarray, w: np.ndarray, var_x: np.ndarray, var_z: np.ndarray,
          scatter: np.ndarray) -> np.ndarray:
    """The named estimator's slope over the last axis of x and z (leading axes are draws).

    w: (V,) the points' weights; var_x, var_z: (V,) each point's noise variance; scatter: (V,) the
    variants' own variance about the line (york adds it to var_z)."""
    if estimator == "wls":
        return wls_slope(x, z, w)
    if estimator == "tc":
        return tc_slope(x, z, w, var_x)
    if estimator == "york":
        return york_slope(x, z, var_x, var_z + scatter, tc_slope(x, z, w, var_x))
    raise ValueError(f"unknown estimator {estimator!r} (one of {', '.join(ESTIMATORS)})")


def gradient(f, v: np.ndarray, step: float) -> np.ndarray:
    """d f / d v_i for a scalar function of a (V,) vector that takes a batch of vectors, by central differences."""
    eye = np.eye(len(v)) * step
    return (f(v[None] + eye) - f(v[None] - eye)) / (2 * step)


def precision_weights(x: np.ndarray, power: float, tau2: float, slope: float, var_x: np.ndarray,
                      var_z: np.ndarray) -> np.ndarray:
    """1 / (each point's variance about the line): its own scatter tau2 |x|^power plus its measurement
    noise var_z + slope^2 var_x; `weights(x, power)` while none of them is known."""
    var = tau2 * np.abs(x) ** power + var_z + slope * slope * var_x
    return 1.0 / var if (var > 0).all() else weights(x, power)


def scatter_variance(r: np.ndarray, w: np.ndarray, shape: np.ndarray, x: np.ndarray, b: float, a: np.ndarray,
                     g: np.ndarray, cov_z: np.ndarray, cov_x: np.ndarray) -> float:
    """The variants' own scatter about the line (tau2: variance per unit of `shape`, |x|^power), net of
    the measurement noise the residuals also hold, by the method of moments.

    The residuals r = z - b x are, to first order, M (scatter + z noise) + N (x noise) with
    M = I - x a', N = -b I - x g' (a, g: the slope's gradients in z and x), so
    E[r' W r] = tau2 tr(W M diag(shape) M') + tr(W M cov_z M') + tr(W N cov_x N')."""
    V = len(x)
    M = np.eye(V) - np.outer(x, a)
    N = -b * np.eye(V) - np.outer(x, g)
    noise = np.trace((w[:, None] * M) @ cov_z @ M.T) + np.trace((w[:, None] * N) @ cov_x @ N.T)
    per_tau = np.trace((w[:, None] * M * shape[None, :]) @ M.T)
    return float(max(0.0, ((w * r * r).sum() - noise) / per_tau)) if per_tau > 0 else 0.0
