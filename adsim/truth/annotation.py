"""Human relevance labels, as an annotation vendor would return them: the true grade, but off
by one grade with probability `label_noise`. The relevance model learns only from these."""

from __future__ import annotations

import numpy as np


def annotate(grade: np.ndarray, label_noise: float, rng: np.random.Generator) -> np.ndarray:
    """Noisy annotator grades 0-3 for pairs whose true grades are `grade` (any shape)."""
    flip = rng.random(grade.shape) < label_noise
    step = np.where(rng.random(grade.shape) < 0.5, -1, 1)
    return np.clip(grade.astype(np.int8) + flip * step, 0, 3).astype(np.int8)
