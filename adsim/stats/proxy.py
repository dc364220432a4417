"""Which intermediate metric to watch: a composite proxy over several metrics, graded against the
best single metric with the selection of each held out, and how many variants a study needs.

Google's proxy-metric study (Tripuraneni et al., KDD'24) found a weighted combination of metrics
tracks the north-star effect better than the best single one. Here the composite is ridge
regression through the control (no intercept: no change, no lift) of the log-lift on the
intermediate metrics' changes, each scaled by its spread across variants. Every number it reports
is out of sample twice over: for each held-out variant, the ridge penalty (and, for the single
metric, which metric is best) is chosen by leave-one-out on the other variants only, then the
held-out lift is predicted. Picking the best of many metrics on the same variants flatters it; the
nested choice does not. Both use plain fits (no noise correction, closed-form leave-one-out), so
the comparison is like for like; the exchange rates themselves come from adsim.stats.rate_fit.
"""

from __future__ import annotations

import numpy as np

from adsim.stats import rate_estimators as est
from adsim.stats.rate_fit import fit_exchange_rate, log_lift, pct_lift
from adsim.stats.estimates import CompositeProxy, VariantsNeeded

PENALTIES = tuple(10.0 ** k for k in range(-3, 4))


def _ridge(X: np.ndarray, z: np.ndarray, lam: float) -> np.ndarray:
    """Ridge coefficients through the origin on columns scaled by their root mean square."""
    return np.linalg.solve(X.T @ X + lam * len(z) * np.eye(X.shape[1]), X.T @ z)


def _loo_ridge_error(X: np.ndarray, z: np.ndarray, lam: float) -> float:
    """Leave-one-out squared error of ridge, in closed form (residual / (1 - leverage))."""
    H = X @ np.linalg.solve(X.T @ X + lam * len(z) * np.eye(X.shape[1]), X.T)
    r = (z - H @ z) / np.maximum(1 - np.diag(H), 1e-9)
    return float(np.mean(r ** 2))


def _scaled(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scale = np.sqrt(np.mean(X ** 2, axis=0))
    scale[scale == 0] = 1.0
    return X / scale, scale


def _composite_predict(X: np.ndarray, z: np.ndarray, new: np.ndarray) -> tuple[float, float]:
    """Predicted log-lift of `new` (its changes) from ridge fitted to (X, z), the penalty by LOO; and the penalty."""
    Xs, scale = _scaled(X)
    lam = min(PENALTIES, key=lambda p: _loo_ridge_error(Xs, z, p))
    return float((new / scale) @ _ridge(Xs, z, lam)), lam


def _single_predict(X: np.ndarray, z: np.ndarray, new: np.ndarray) -> tuple[float, int]:
    """Predicted log-lift of `new` (its changes) from the single metric whose line through the control
    (weights 1 / |x|) predicts the other variants best under leave-one-out (closed form); and its column."""
    w = np.stack([est.weights(X[:, k], 1.0) for k in range(X.shape[1])], 1)
    sxx = (w * X * X).sum(0)
    slope = np.where(sxx > 0, (w * X * z[:, None]).sum(0) / np.where(sxx > 0, sxx, 1), 0.0)
    lev = w * X * X / np.where(sxx > 0, sxx, 1)
    loo = (z[:, None] - X * slope) / np.maximum(1 - lev, 1e-9)
    err = np.where(sxx > 0, np.mean(loo ** 2, axis=0), np.inf)
    best = int(np.argmin(err))
    return float(slope[best] * new[best]), best


def composite_proxy(x: dict[str, np.ndarray], y: np.ndarray, metrics: list[str]) -> CompositeProxy | None:
    """The composite's weights on all variants, and both nested leave-one-out errors (% points)."""
    X = np.stack([x[m] for m in metrics], 1)
    z = log_lift(y)
    V = len(y)
    if V < 5 or len(metrics) < 2 or not np.isfinite(z).all():
        return None
    comp_err, single_err, picks = [], [], []
    for v in range(V):
        rest = np.arange(V) != v
        zc, _ = _composite_predict(X[rest], z[rest], X[v])
        zs, k = _single_predict(X[rest], z[rest], X[v])
        comp_err.append(float(pct_lift(zc)) - y[v])
        single_err.append(float(pct_lift(zs)) - y[v])
        picks.append(metrics[k])
    Xs, scale = _scaled(X)
    _, lam = _composite_predict(X, z, X[0])
    weights = _ridge(Xs, z, lam) / scale
    rmse = lambda e: float(np.sqrt(np.mean(np.square(e))))  # noqa: E731
    return CompositeProxy(metrics=metrics, weights=[float(w) for w in weights], penalty=lam,
                          loo_rmse=rmse(comp_err), single_loo_rmse=rmse(single_err),
                          single_picks={m: picks.count(m) for m in sorted(set(picks))})


def variants_needed(x: np.ndarray, y: np.ndarray, y_boot: np.ndarray | None, x_boot: np.ndarray | None,
                    estimator: str, seed: int, sizes: tuple[int, ...] = (), n_subsets: int = 20) -> list[VariantsNeeded]:
    """The slope's CI half-width (relative to the full sweep's slope) when only m of the V variants
    are kept, averaged over random subsets: how many variants a study of this kind needs."""
    V = len(x)
    sizes = sizes or tuple(sorted({m for m in (5, 8, 12, 20, 35, 50, 75, 100, 150) if m < V} | {V}))
    full = fit_exchange_rate(x, y, y_boot, x_boot, estimator=estimator, loo=False).slope
    rng = np.random.default_rng([seed, 31337])
    rows = []
    for m in sizes:
        halves = []
        for _ in range(n_subsets if m < V else 1):
            keep = np.sort(rng.choice(V, m, replace=False)) if m < V else np.arange(V)
            if not np.any(x[keep]):
                continue
            r = fit_exchange_rate(x[keep], y[keep], None if y_boot is None else y_boot[:, keep],
                                  None if x_boot is None else x_boot[:, keep], estimator=estimator, loo=False)
            halves.append((r.ci_high - r.ci_low) / 2)
        if halves:
            h = float(np.mean(halves))
            rows.append(VariantsNeeded(n_variants=m, half_width=h, relative=h / abs(full) if full else float("nan")))
    return rows
