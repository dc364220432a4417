"""The users' side of serving: how shoppers react to the ads they were shown (position-based
clicks and purchases with common random numbers), and what the ground truth says of the system's
candidates, for the logs' analysis columns. This is where serving reads the world's answers;
the ad system's pass (adsim.serving.system) never does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from adsim.core.config import ClickConfig
from adsim.serving.system import SystemPass
from adsim.truth.clicks import click_seed, simulate_outcomes
from adsim.truth.ground_truth import Intents, attractiveness, examination, purchase_probability, relevance
from adsim.world.build import World


@dataclass(frozen=True)
class Reaction:
    """What the users of R requests did with their (R, n_slots) ads, and the ground truth of them."""

    true_ctr: np.ndarray     # float32, P(click) of each shown ad in its slot
    click: np.ndarray        # bool
    purchase: np.ndarray     # bool
    revenue: np.ndarray      # float32, the GSP price where clicked
    grade_shown: np.ndarray  # int8, true relevance of each shown ad (0 where empty)


@dataclass(frozen=True)
class CandidateTruth:
    """The ground truth of R requests' retrieved candidates (analysis only)."""

    grade: np.ndarray             # int8 (R, N), true relevance of each candidate (0 for padding)
    target_retrieved: np.ndarray  # bool (R,), the shopper's target was among the candidates


def judge_candidates(world: World, intents: Intents, served: SystemPass) -> CandidateTruth:
    cands = served.candidates
    grade = np.where(cands.valid, relevance(intents, world.items, np.maximum(cands.item, 0)), 0)
    return CandidateTruth(grade=grade, target_retrieved=(cands.item == intents.target[:, None]).any(1))


def react(world: World, request_ids: np.ndarray, user_ids: np.ndarray, intents: Intents, served: SystemPass,
          clicks: ClickConfig, click_stream: int) -> Reaction:
    """Clicks = examined (per request and slot) and attracted (per request and item), purchases ~
    P(buy | click), each drawn with common random numbers on the arm's click stream."""
    items, shown, filled = world.items, np.maximum(served.shown, 0), served.filled
    position = np.broadcast_to(np.arange(shown.shape[1]), shown.shape)
    examine = np.broadcast_to(examination(np.arange(shown.shape[1]), clicks.position_decay), shown.shape)
    attract = attractiveness(world.users, user_ids, intents, items, shown, clicks.ctr_shift)
    p_buy = purchase_probability(world.users, user_ids, intents, items, shown)
    out = simulate_outcomes(click_seed(world.seed, click_stream, world.spec.replicate), request_ids[:, None], shown, position, examine, attract, p_buy)
    true_ctr = (examine * attract).astype(np.float32)
    click = out.click & filled
    revenue = np.where(click, served.auction.price, 0.0).astype(np.float32)
    return Reaction(true_ctr=true_ctr, click=click, purchase=out.purchase & filled, revenue=revenue,
                    grade_shown=np.where(filled, relevance(intents, items, shown), 0))
