"""An arm's pass over a batch: what it shows comes from what it kept, and spent budgets stop ads."""

import numpy as np
import pytest

from adsim.core.config import load_config
from adsim.experiments.protocol import bootstrap_system, logged_sequences
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
