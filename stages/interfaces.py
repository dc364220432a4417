"""What flows through the ad system under test, and the two stage roles several stages can fill.

A `QueryBatch` is R requests as the system receives them, with the arm's query embeddings and
each user's logged behaviour. After retrieval (stages.retrieval) a `CandidateFilter` keeps the
candidates worth ranking (the trained relevance model, or the bootstrap's retrieval-order cut),
and a `Ranker` scores them (the TorchRec CTR model, or the bootstrap's similarity prior); the
auction (stages.auction) then fills the slots.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from stages.lexical import LexicalIndex
from stages.retrieval import Candidates


@dataclass(frozen=True)
class QueryBatch:
    """R requests as the ad system receives them."""

    request_id: np.ndarray  # int64 (R,)
    user_id: np.ndarray     # int32 (R,)
    modality: np.ndarray    # int8 (R,), adsim.core.vocab.Modality codes
    text: np.ndarray        # object (R,), "" for photo-only queries
    embedding: np.ndarray   # float32 (R, d), the arm's query embeddings
    behaviour: np.ndarray   # int32 (R, L), each user's logged clicks, left-padded with -1, most recent last

    def __len__(self) -> int:
        return len(self.request_id)


@dataclass(frozen=True)
class Kept:
    """A filter's verdict on (R, N) retrieved candidates."""

    columns: np.ndarray  # int (R, M): retrieval columns kept for ranking, best first; -1 pads
    items: np.ndarray    # int32 (R, M): their item ids; -1 pads
    score: np.ndarray    # float32 (R, N): the filter's score of every retrieved candidate


class CandidateFilter(Protocol):
    """Keeps the candidates worth ranking."""

    def __call__(self, queries: QueryBatch, candidates: Candidates, lexical: LexicalIndex) -> Kept:
        ...


class Ranker(Protocol):
    """Scores candidates for the auction."""

    def score(self, queries: QueryBatch, items: np.ndarray) -> np.ndarray:
        """pCTR (R, C) float32 of (R, C) candidate item ids, 0 where the id is -1."""
        ...
