"""Click and purchase draws with common random numbers (CRN), per factor of the click model.

The position-based model says P(click) = P(examine slot k) x P(attracted by the item). Each factor
has its own draw, a pure function of what it depends on: examination of (seed, request, slot),
attraction and purchase of (seed, request, item). Two arms that show the same ad to the same
request get the same attraction and purchase draws in whatever slot they put it, and the same
examination draw for the same slot, so their outcomes differ only where their systems differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from adsim.core.rng import replicate_seed, uniform


def examination_uniforms(seed: int, request_ids: np.ndarray, positions: np.ndarray) -> np.ndarray:
    return uniform(seed, "examine", request_ids, positions)


def attraction_uniforms(seed: int, request_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
    return uniform(seed, "attract", request_ids, item_ids)


def purchase_uniforms(seed: int, request_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
    return uniform(seed, "purchase", request_ids, item_ids)


@dataclass(frozen=True)
class Outcomes:
    click: np.ndarray     # bool
    purchase: np.ndarray  # bool, only where clicked


def simulate_outcomes(seed: int, request_ids, item_ids, positions, examine_p: np.ndarray, attract_p: np.ndarray,
                      purchase_given_click: np.ndarray) -> Outcomes:
    """Clicks = examined and attracted (so P(click) = examine_p x attract_p), purchases ~ Bernoulli(p | click),
    each factor compared with its own common random number."""
    examined = examination_uniforms(seed, request_ids, positions) < examine_p
    click = examined & (attraction_uniforms(seed, request_ids, item_ids) < attract_p)
    purchase = click & (purchase_uniforms(seed, request_ids, item_ids) < purchase_given_click)
    return Outcomes(click=click, purchase=purchase)


def click_seed(seed: int, stream: int, replicate: int = 0) -> int:
    """The seed of click stream `stream`: 0 is the shared CRN stream; other streams give
    independent draws (two buckets of one system, for A/A checks); a replicate re-draws them all."""
    seed = replicate_seed(seed, replicate)
    return seed if stream == 0 else (seed * 1_000_003 + stream * 7919) % (1 << 62)
