"""Human relevance labels, as an annotation vendor would return them: the true grade, but off
by one grade with probability `label_noise`. The relevance model learns only from these."""

from __future__ import annotations

import numpy as np

from adsim.truth.ground_truth import relevance
from adsim.core.tables import take
from adsim.world.build import World


def annotate(world: World, request_ids: np.ndarray, item_ids: np.ndarray, label_noise: float,
             rng: np.random.Generator) -> np.ndarray:
    """Noisy grades 0-3 for (request, item) pairs of equal shape (R,) or rows of (R, C)."""
    intents = take(world.requests.intent, request_ids)
    grade = relevance(intents, world.items, item_ids).astype(np.int8)
    flip = rng.random(grade.shape) < label_noise
    step = np.where(rng.random(grade.shape) < 0.5, -1, 1)
    return np.clip(grade + flip * step, 0, 3).astype(np.int8)
