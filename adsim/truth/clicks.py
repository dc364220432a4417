"""Click and purchase draws with common random numbers (CRN).

A draw is a pure function of (seed, request id, item id, slot): two arms that show the same ad
in the same slot of the same request see the same uniform, so their outcomes differ only where
their systems differ. Outcomes are Bernoulli(true probability) by comparison with that uniform.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from adsim.core.rng import uniform


def click_uniforms(seed: int, request_ids: np.ndarray, item_ids: np.ndarray, positions: np.ndarray) -> np.ndarray:
    return uniform(seed, "click", request_ids, item_ids, positions)


def purchase_uniforms(seed: int, request_ids: np.ndarray, item_ids: np.ndarray, positions: np.ndarray) -> np.ndarray:
    return uniform(seed, "purchase", request_ids, item_ids, positions)


@dataclass(frozen=True)
class Outcomes:
    click: np.ndarray     # bool
    purchase: np.ndarray  # bool, only where clicked


def simulate_outcomes(seed: int, request_ids, item_ids, positions, true_ctr: np.ndarray,
                      purchase_given_click: np.ndarray) -> Outcomes:
    """Clicks ~ Bernoulli(true_ctr) and purchases ~ Bernoulli(p | click), with CRN draws."""
    click = click_uniforms(seed, request_ids, item_ids, positions) < true_ctr
    purchase = click & (purchase_uniforms(seed, request_ids, item_ids, positions) < purchase_given_click)
    return Outcomes(click=click, purchase=purchase)


def click_seed(seed: int, stream: int) -> int:
    """The seed of click stream `stream`: 0 is the shared CRN stream; other streams give
    independent draws (two buckets of one system, for A/A checks)."""
    return seed if stream == 0 else (seed * 1_000_003 + stream * 7919) % (1 << 62)
