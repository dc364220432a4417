"""An arm's pass over a batch: what it shows comes from what it kept, and spent budgets stop ads."""

import numpy as np
import pytest

from adsim.core.config import load_config
from adsim.runs.protocol import bootstrap_system, logged_sequences
from adsim.serving.engine import DayContext
from adsim.serving.timer import StageTimer
from tests.support import SMOKE


@pytest.fixture(scope="module")
def pass_inputs(smoke_world, tmp_path_factory):
    cfg = load_config(SMOKE)
    system = bootstrap_system(smoke_world, cfg)
    ctx = DayContext(world=smoke_world, system=system, day=1, seq=logged_sequences(smoke_world, cfg.world.seq_len),
                     run_dir=tmp_path_factory.mktemp("run"), arm="a", clicks=cfg.clicks, engine=cfg.engine)
    ids = smoke_world.requests.request_id[smoke_world.requests.day == 1][:200]
    return system, ctx.queries(ids)


def test_the_pass_shows_kept_candidates_in_auction_order(pass_inputs):
    system, queries = pass_inputs
    n_adv = 40
    timer = StageTimer()
    out = system.serve(queries, 1, np.zeros(n_adv), np.full(n_adv, np.inf, np.float32), timer)
    assert set(timer.seconds) == {"retrieval", "relevance", "ranking", "auction"}
    assert out.shown.shape == (200, system.auction.n_slots) and out.filled.any()
    for r in range(200):
        shown = out.shown[r][out.filled[r]]
        assert set(shown) <= set(out.kept.items[r][out.kept.items[r] >= 0])
        assert set(out.kept.items[r][out.kept.items[r] >= 0]) <= set(out.candidates.item[r][out.candidates.valid[r]])
    winners = out.auction.winner[out.filled]
    assert np.array_equal(out.shown_pctr[out.filled], out.pctr[np.nonzero(out.filled)[0], winners])


def test_spent_budgets_show_no_ads(pass_inputs):
    system, queries = pass_inputs
    budget = np.ones(40, np.float32)
    out = system.serve(queries, 1, budget.astype(np.float64), budget, StageTimer())
    assert not out.filled.any()


def test_query_embeddings_are_asked_of_the_provider_in_bounded_chunks(smoke_world, monkeypatch):
    """A day's impressions repeat each request over its slots: each distinct request is embedded
    once, QUERY_CHUNK at a time, and every impression finds its own request's row."""
    import adsim.serving.system as system_module
    from encoders.registry import make_provider
    cfg = load_config(SMOKE)
    emb = system_module.ArmEmbeddings.of("a", make_provider("latent-noise", {"noise": 0.5}, smoke_world),
                                         smoke_world.view.items, cfg.retrieval)
    asked = []
    real = emb.provider.query_embeddings
    monkeypatch.setattr(emb.provider, "query_embeddings", lambda ids: asked.append(len(ids)) or real(ids))
    req = np.repeat(smoke_world.requests.request_id[:1000], 3)[::-1]
    whole, whole_row = emb.distinct_query_embeddings(req)
    monkeypatch.setattr(system_module, "QUERY_CHUNK", 64)
    chunked, row = emb.distinct_query_embeddings(req)
    assert asked[0] == 1000 and max(asked[1:]) == 64 and sum(asked[1:]) == 1000
    assert np.array_equal(row, whole_row) and np.abs(chunked - whole).max() < 1e-6
    assert np.allclose(chunked[row], real(req), atol=1e-6)


def test_title_indexes_belong_to_the_run_and_need_no_ann_index(smoke_world):
    """Day 0's index for the relevance labels is built alone (no ANN index) and let go by whoever
    asked; day 1's is the run's, one object for every arm; later days are each arm's own."""
    from adsim.serving.system import ArmEmbeddings
    from adsim.serving.titles import RunTitles
    from encoders.registry import make_provider
    cfg = load_config(SMOKE)
    texts = smoke_world.requests.query_text[smoke_world.requests.day == 1]
    titles = RunTitles(smoke_world.view.items, cfg.retrieval, first_day=1, first_texts=texts)
    a, b = (ArmEmbeddings.of(n, make_provider("latent-noise", {"noise": 0.5, "stream": n}, smoke_world),
                             smoke_world.view.items, cfg.retrieval, titles) for n in ("a", "b"))
    day0 = a.lexical(0)
    assert a._retrievers == {} and a.lexical(0) is not day0  # nothing kept: the caller holds it while it needs it
    assert a.retriever(1).lexical is b.retriever(1).lexical is titles.index(1)
    assert a.lexical(2) is not b.lexical(2)


def test_an_arm_s_day_1_title_index_carries_the_bootstrap_s_day_0_answers(smoke_world):
    from adsim.serving.system import ArmEmbeddings
    from adsim.serving.titles import RunTitles
    from encoders.registry import make_provider
    cfg = load_config(SMOKE)
    boot = bootstrap_system(smoke_world, cfg).embeddings
    day = smoke_world.requests.day
    texts = smoke_world.requests.query_text
    boot.retriever(0).lexical.search(texts[day == 0], cfg.retrieval.lexical_quota)  # day 0's traffic
    titles = RunTitles(smoke_world.view.items, cfg.retrieval, carried=boot.retriever(0).lexical.answers(0))
    arm = ArmEmbeddings.of("a", make_provider("latent-noise", {"noise": 1.0}, smoke_world), smoke_world.view.items,
                           cfg.retrieval, titles)
    plain = ArmEmbeddings.of("b", make_provider("latent-noise", {"noise": 1.0}, smoke_world), smoke_world.view.items,
                             cfg.retrieval)
    got = arm.retriever(1).lexical.search(texts[day == 1], cfg.retrieval.lexical_quota)
    want = plain.retriever(1).lexical.search(texts[day == 1], cfg.retrieval.lexical_quota)
    assert np.array_equal(got[1], want[1]) and np.array_equal(got[0], want[0])
    assert arm.retriever(1).lexical.carried[cfg.retrieval.lexical_quota].hits > 0
    assert arm.lexical(0).carried == {}  # an index of the same day carries nothing over
