"""Multi-slot generalised second-price (GSP) auction, vectorised over a batch of requests.

Ads are ranked by rank score = bid x pCTR^alpha. The ad in slot i pays per click the least that
keeps its slot: next_bid x next_pCTR^alpha / own_pCTR^alpha, at least the reserve and never more
than its own bid. Ads bidding below the reserve, or whose advertiser has spent its budget, are
not eligible. Inputs are (R, C) candidate arrays; invalid candidates are masked out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AuctionResult:
    """Winners per request: column indices into the candidate arrays, -1 for an empty slot."""

    winner: np.ndarray      # int64 (R, n_slots)
    price: np.ndarray       # float32 (R, n_slots), cost per click; 0 where empty
    rank_score: np.ndarray  # float32 (R, n_slots); 0 where empty

    @property
    def filled(self) -> np.ndarray:
        return self.winner >= 0


def rank_scores(bid: np.ndarray, pctr: np.ndarray, alpha: float) -> np.ndarray:
    return (bid * np.power(np.maximum(pctr, 1e-12), alpha)).astype(np.float32)


def run_gsp(bid: np.ndarray, pctr: np.ndarray, valid: np.ndarray, n_slots: int, alpha: float,
            reserve: float) -> AuctionResult:
    """Allocate `n_slots` slots per request by GSP; `valid` masks candidates allowed to bid."""
    if bid.ndim != 2 or bid.shape != pctr.shape or bid.shape != valid.shape:
        raise ValueError(f"bid {bid.shape}, pctr {pctr.shape} and valid {valid.shape} must share one (R, C) shape")
    r, c = bid.shape
    eligible = valid & (bid >= reserve) & (pctr > 0)
    score = np.where(eligible, rank_scores(bid, pctr, alpha), -np.inf)
    k = min(n_slots + 1, c)
    # Top n_slots + 1 by score (the extra one prices the last slot), sorted descending.
    top = np.argpartition(-score, k - 1, axis=1)[:, :k] if k < c else np.tile(np.arange(c), (r, 1))
    order = np.argsort(-np.take_along_axis(score, top, 1), axis=1, kind="stable")
    ranked = np.take_along_axis(top, order, 1)
    ranked_score = np.take_along_axis(score, ranked, 1)
    ok = np.isfinite(ranked_score)

    slots = min(n_slots, c)
    winner = np.where(ok[:, :slots], ranked[:, :slots], -1)
    own_bid = np.take_along_axis(bid, ranked[:, :slots], 1)
    own_pctr = np.take_along_axis(pctr, ranked[:, :slots], 1)
    next_score = np.full((r, slots), 0.0, dtype=np.float32)
    has_next = np.zeros((r, slots), dtype=bool)
    if k > 1:
        n_next = min(slots, k - 1)
        next_score[:, :n_next] = np.where(ok[:, 1:n_next + 1], ranked_score[:, 1:n_next + 1], 0.0)
        has_next[:, :n_next] = ok[:, 1:n_next + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        second = np.where(has_next, next_score / np.power(np.maximum(own_pctr, 1e-12), alpha), 0.0)
    price = np.minimum(np.maximum(second, reserve), own_bid)
    filled = winner >= 0
    price = np.where(filled, price, 0.0).astype(np.float32)
    rs = np.where(filled, np.where(np.isfinite(ranked_score[:, :slots]), ranked_score[:, :slots], 0.0), 0.0)
    return AuctionResult(winner=winner.astype(np.int64), price=price, rank_score=rs.astype(np.float32))


def budget_eligible(advertiser: np.ndarray, spent: np.ndarray, budget: np.ndarray) -> np.ndarray:
    """True where the candidate's advertiser still has budget left today."""
    return spent[advertiser] < budget[advertiser]


def charge(spent: np.ndarray, advertiser: np.ndarray, cost: np.ndarray) -> None:
    """Add click costs to advertisers' spend in place (duplicates accumulate)."""
    np.add.at(spent, advertiser, cost)
