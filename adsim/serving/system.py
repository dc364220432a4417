"""One arm's ad system, built whole: its embeddings and retrieval index, a candidate filter, a
ranker and the auction settings; and its pass over a batch of requests.

`ArmSystem.serve` runs retrieval -> filter -> ranker -> auction on a `QueryBatch` and never
touches ground truth: what users then do is adsim.serving.users' business.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from adsim.core.config import AuctionConfig, RetrievalConfig
from adsim.serving.timer import StageTimer
from adsim.serving.titles import RunTitles, listed
from adsim.world.view import ListedItems
from encoders.provider import EmbeddingProvider, check_embeddings
from stages.auction import AuctionResult, budget_eligible, run_gsp
from stages.interfaces import CandidateFilter, Kept, QueryBatch, Ranker
from stages.lexical import LexicalIndex
from stages.retrieval import Candidates, Retriever


QUERY_CHUNK = 65536  # distinct requests a provider embeds at a time (a day's impressions hold millions)


@dataclass(eq=False)
class ArmEmbeddings:
    """An arm's embedding provider, its checked item vectors and its retrieval index per day."""

    name: str
    provider: EmbeddingProvider
    item_emb: np.ndarray  # (n_items, dim) float32, validated
    catalogue: ListedItems
    retrieval: RetrievalConfig
    titles: RunTitles | None = field(default=None, repr=False)  # the run's title indexes (none: the arm's own)
    _retrievers: dict[int, Retriever] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.titles is None:
            self.titles = RunTitles(self.catalogue, self.retrieval)

    @classmethod
    def of(cls, name: str, provider: EmbeddingProvider, items: ListedItems, retrieval: RetrievalConfig,
           titles: RunTitles | None = None) -> "ArmEmbeddings":
        """Ask `provider` for the catalogue's embeddings and check them (shape, dtype, NaN, zero rows);
        `titles`: the run's title indexes this arm serves with."""
        item_emb = check_embeddings(provider.item_embeddings(), len(items.item_id), provider.dim, f"{name}: item embeddings")
        return cls(name=name, provider=provider, item_emb=item_emb, catalogue=items, retrieval=retrieval, titles=titles)

    def reading(self, provider: EmbeddingProvider) -> "ArmEmbeddings":
        """These item vectors and retrieval indexes with `provider` embedding the queries (the same
        model on another draw of traffic)."""
        return ArmEmbeddings(name=self.name, provider=provider, item_emb=self.item_emb, catalogue=self.catalogue,
                             retrieval=self.retrieval, titles=self.titles, _retrievers=self._retrievers)

    @property
    def dim(self) -> int:
        return self.provider.dim

    def _listed(self, day: int) -> np.ndarray:
        return listed(self.catalogue, day)

    def retriever(self, day: int) -> Retriever:
        """The retrieval stage over the items listed by `day` (built once per day)."""
        if day not in self._retrievers:
            self._retrievers[day] = Retriever(self.item_emb, self.catalogue.title, self._listed(day), self.retrieval,
                                              lexical=self.lexical(day))
        return self._retrievers[day]

    def lexical(self, day: int) -> LexicalIndex:
        """The day's title index: the day's retriever's once it is built, else the run's for that day
        (the relevance labels' features read day 0's; the ANN index and i2i table of a million ads
        take minutes to build), carrying over this arm's own latest earlier day's answers."""
        if day in self._retrievers:
            return self._retrievers[day].lexical
        own = [d for d in self._retrievers if d < day]
        earlier = self._retrievers[max(own)].lexical.answers(max(own)) if own else None
        return self.titles.index(day, earlier, self.retrieval)

    def query_embeddings(self, request_ids: np.ndarray) -> np.ndarray:
        """(R, dim) query embeddings; each distinct request is embedded once (label queues repeat them)."""
        emb, inverse = self.distinct_query_embeddings(request_ids)
        return emb[inverse]

    def distinct_query_embeddings(self, request_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(U, dim) embeddings of the U distinct requests among `request_ids` and each id's row in
        them: what a table of impressions holds, once per request rather than once per slot."""
        uniq, inverse = np.unique(request_ids, return_inverse=True)
        if not len(uniq):
            return np.zeros((0, self.dim), dtype=np.float32), inverse.ravel()
        emb = np.empty((len(uniq), self.dim), dtype=np.float32)
        for s in range(0, len(uniq), QUERY_CHUNK):  # a provider's working memory grows with what it is asked at once
            part = uniq[s:s + QUERY_CHUNK]
            emb[s:s + len(part)] = check_embeddings(self.provider.query_embeddings(part), len(part), self.dim,
                                                    f"{self.name}: query embeddings")
        return emb, inverse.ravel()


@dataclass(frozen=True)
class SystemPass:
    """What the ad system did with a batch of R requests: (R, N) candidates, (R, M) kept ones and
    their scores, and (R, n_slots) auction results."""

    candidates: Candidates
    kept: Kept
    pctr: np.ndarray        # (R, M) ranker score of each kept candidate
    auction: AuctionResult
    shown: np.ndarray       # (R, n_slots) item ids, -1 for empty slots
    shown_pctr: np.ndarray  # (R, n_slots)

    @property
    def filled(self) -> np.ndarray:
        return self.shown >= 0


@dataclass(frozen=True, eq=False)
class ArmSystem:
    """One arm's serving system, every stage in place."""

    name: str
    embeddings: ArmEmbeddings
    candidate_filter: CandidateFilter
    ranker: Ranker
    auction: AuctionConfig
    click_stream: int = 0  # which stream of common random numbers its users' clicks draw from

    def serve(self, queries: QueryBatch, day: int, spent: np.ndarray, budget: np.ndarray, timer: StageTimer) -> SystemPass:
        """Retrieval, candidate filter, ranker and GSP auction for one batch (no ground truth); `spent`
        and `budget` are the advertisers' spend so far today and their daily budgets."""
        retriever = self.embeddings.retriever(day)
        with timer.stage("retrieval"):
            cands = retriever(queries.embedding, queries.behaviour[:, -self.embeddings.retrieval.i2i_recent:], queries.text)
        with timer.stage("relevance"):
            kept = self.candidate_filter(queries, cands, retriever.lexical)
        with timer.stage("ranking"):
            pctr = self.ranker.score(queries, kept.items)
        with timer.stage("auction"):
            catalogue, safe = self.embeddings.catalogue, np.maximum(kept.items, 0)
            eligible = (kept.items >= 0) & budget_eligible(catalogue.advertiser_id[safe], spent, budget)
            a = self.auction
            result = run_gsp(catalogue.bid[safe], pctr, eligible, a.n_slots, a.alpha, a.reserve)
        col = np.maximum(result.winner, 0)
        shown = np.where(result.filled, np.take_along_axis(kept.items, col, 1), -1)
        return SystemPass(candidates=cands, kept=kept, pctr=pctr, auction=result, shown=shown,
                          shown_pctr=np.take_along_axis(pctr, col, 1))
