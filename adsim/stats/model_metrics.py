"""Model metrics: AUC, gAUC, log-loss and calibration of a classifier's scores."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from adsim.core.rng import generator


def auc(label: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (ties count half); NaN when only one class is present."""
    label = np.asarray(label).astype(bool)
    n_pos, n_neg = label.sum(), (~label).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[label].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def per_group_auc(label: np.ndarray, score: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each group's AUC (NaN without both classes), impressions and whether it has both classes, in
    the order of np.unique(group)."""
    label = np.asarray(label).astype(bool)
    _, g = np.unique(group, return_inverse=True)
    dense = rankdata(score, method="dense").astype(np.int64)
    ranks = rankdata(g * (dense.max() + 1) + dense)  # average ranks within (group, score)
    n = np.bincount(g)
    start = np.concatenate([[0], np.cumsum(n)[:-1]])
    within = ranks - start[g]
    n_pos = np.bincount(g, weights=label)
    n_neg = n - n_pos
    rank_sum = np.bincount(g, weights=within * label)
    ok = (n_pos > 0) & (n_neg > 0)
    per_group = np.full(len(n), np.nan)
    per_group[ok] = (rank_sum[ok] - n_pos[ok] * (n_pos[ok] + 1) / 2) / (n_pos[ok] * n_neg[ok])
    return per_group, n, ok


def group_auc(label: np.ndarray, score: np.ndarray, group: np.ndarray) -> float:
    """Impression-weighted mean of per-group AUC over groups with both classes (gAUC by user)."""
    per_group, n, ok = per_group_auc(label, score, group)
    return float(np.average(per_group[ok], weights=n[ok])) if ok.any() else float("nan")


def log_loss(label: np.ndarray, prob: np.ndarray) -> float:
    p = np.clip(prob.astype(np.float64), 1e-7, 1 - 1e-7)
    y = np.asarray(label).astype(np.float64)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def calibration(label: np.ndarray, prob: np.ndarray) -> float:
    """Mean predicted CTR over observed CTR (1 = calibrated)."""
    rate = np.asarray(label).mean()
    return float(np.mean(prob) / rate) if rate > 0 else float("nan")


def classifier_report(label: np.ndarray, prob: np.ndarray, group: np.ndarray | None = None) -> dict[str, float]:
    out = {"auc": auc(label, prob), "log_loss": log_loss(label, prob), "calibration": calibration(label, prob)}
    if group is not None:
        out["gauc"] = group_auc(label, prob, group)
    return out


def _group_multiplicities(group: np.ndarray, seed: int, n_boot: int):
    """Each row's group (0..G-1) and, per resample of whole groups (users) with replacement, how
    often each group was drawn (G,): the resample as a multiset, never its concatenated rows."""
    _, g = np.unique(group, return_inverse=True)
    n_groups = int(g.max(initial=-1)) + 1
    rng = generator(seed, "group-bootstrap")
    return g, (np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups) for _ in range(n_boot))


def weighted_auc_draws(label: np.ndarray, score: np.ndarray, row_group: np.ndarray, counts) -> list[float]:
    """The AUC (ties count half) of each weighted copy of the rows, a row weighing its group's count:
    one sort of the scores, then per draw two bincounts over the tie groups (O(n), not O(n log n))."""
    order = np.argsort(score, kind="stable")
    s, y, g = score[order], np.asarray(label, bool)[order], row_group[order]
    tie = np.concatenate([[0], np.cumsum(s[1:] != s[:-1])])  # rows of equal score share a tie group
    draws = []
    for c in counts:
        w = c[g].astype(np.float64)
        pos = np.bincount(tie, weights=w * y)
        neg = np.bincount(tie, weights=w * ~y)
        n_pos, n_neg = pos.sum(), neg.sum()
        below = np.cumsum(neg) - neg  # negatives scored strictly lower than each tie group
        draws.append(float(pos @ (below + 0.5 * neg) / (n_pos * n_neg)) if n_pos and n_neg else float("nan"))
    return draws


def auc_interval(label: np.ndarray, score: np.ndarray, group: np.ndarray, seed: int, n_boot: int = 200,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile CI of the AUC under a bootstrap over groups (users): the held-out impressions of a
    user are not independent, so whole users are resampled."""
    g, counts = _group_multiplicities(group, seed, n_boot)
    draws = weighted_auc_draws(label, score, g, counts)
    lo, hi = np.nanpercentile(draws, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return float(lo), float(hi)


def ratio_interval(pred: np.ndarray, label: np.ndarray, group: np.ndarray, seed: int, n_boot: int = 200,
                   level: float = 0.95) -> tuple[float, float]:
    """Percentile CI of mean prediction / mean label (calibration) under a bootstrap over users."""
    g, counts = _group_multiplicities(group, seed, n_boot)
    num, den = np.bincount(g, weights=pred), np.bincount(g, weights=np.asarray(label, np.float64))
    draws = [(c @ num) / max(c @ den, 1e-12) for c in counts]
    lo, hi = np.percentile(draws, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return float(lo), float(hi)


def position_only_log_loss(train_position: np.ndarray, train_click: np.ndarray, position: np.ndarray,
                           click: np.ndarray, prior: float = 1.0) -> float:
    """Held-out log-loss of the position-only model (a logistic regression on one-hot slots: each
    slot's smoothed training CTR), the baseline a CTR model must beat."""
    n_slots = int(max(train_position.max(initial=0), position.max(initial=0))) + 1
    shown = np.bincount(train_position, minlength=n_slots)
    clicks = np.bincount(train_position, weights=train_click.astype(np.float64), minlength=n_slots)
    base = clicks.sum() / max(shown.sum(), 1)
    ctr = (clicks + prior * base) / (shown + prior)
    return log_loss(click, ctr[position])
