"""`adsim bench`: one day served with the control's stages, timed per stage, with the ANN index's
recall against exact search."""

import numpy as np
import pytest

from adsim.core.config import load_config
from adsim.benchmarks.throughput import bench_run
from tests.support import SMOKE


@pytest.mark.parametrize("index,recall_below_one", [("flat", False), ("ivf", True)])
def test_a_bench_run_times_every_stage_and_reports_the_ann_s_recall(index, recall_below_one):
    # 1,500 ads in 32 lists, 2 of them probed: the IVF index misses much of the exact top 120.
    cfg = load_config(SMOKE, [f"retrieval.index={index}", "retrieval.ivf_lists=32", "retrieval.ivf_probe=2",
                              "retrieval.ivf_codec=sq8"])
    run = bench_run(cfg, 1.0, rate=1e11)
    assert run.n_requests == cfg.traffic.n_requests  # day 1's traffic
    assert {"retrieval", "relevance", "ranking", "auction"} <= set(run.stage_seconds)
    assert all(v > 0 for v in run.stage_seconds.values())
    if recall_below_one:
        assert 0.05 < run.ann_recall < 0.9
    else:
        assert run.ann_recall == pytest.approx(1.0)
    assert f"ann_recall={run.ann_recall:.3f}" in run.line() and not np.isnan(run.requests_per_s)
