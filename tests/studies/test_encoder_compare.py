"""`adsim encoder compare`: paired differences of recall between encoders, with CIs over queries."""

import numpy as np
import pytest

from adsim.core.config import load_config
from adsim.studies.encoder_compare import compare, recall_difference
from tests.support import SMOKE


def test_recall_difference_ci_is_paired_over_queries():
    rng = np.random.default_rng(0)
    base = rng.random((1000, 10)) < 0.02
    better = base.copy()
    better[:200, 0] = True  # 200 more queries hit
    diff, lo, hi = recall_difference(better, base, 10, seed=0)
    assert diff == pytest.approx((better.any(1).mean() - base.any(1).mean())) and 0 < lo < diff < hi
    assert recall_difference(base, base, 10, seed=0) == (0.0, 0.0, 0.0)
    noisy = rng.random((1000, 10)) < 0.02
    _, lo, hi = recall_difference(noisy, base, 10, seed=0)
    assert lo < 0 < hi


def test_compare_reports_paired_differences(smoke_world, tmp_path):
    cfg = load_config(SMOKE, ["encoder_train.pretrain_steps=3", "encoder_train.posttrain_steps=3",
                              "encoder_train.grpo_steps=3", "encoder_train.batch_size=16"])
    report = compare(cfg, tmp_path, log=lambda _: None, world=smoke_world)
    assert set(report.results) == {"random", "minilm", "clip", "moon_pretrain_only", "moon_posttrain_only", "moon",
                                   "moon_co_augmented", "moon_visual_expansion", "moon_reasoning_imitation",
                                   "moon_reasoning_grpo"}
    assert (tmp_path / "moon_co_augmented" / "co_augmentation.json").exists()
    rows = {(r.a, r.b, r.metric): r for r in report.differences}
    row = rows[("moon", "clip", "image_search_recall@10")]
    results = report.results
    assert row.difference == pytest.approx(results["moon"]["image_search_recall@10"] - results["clip"]["image_search_recall@10"])
    assert row.ci_low <= row.difference <= row.ci_high
    assert report.to_frame().height == 10
    assert ("moon_co_augmented", "moon", "image_search_recall@10") in rows
    assert ("moon_reasoning_grpo", "moon_reasoning_imitation", "text_recall@10") in rows
    probe = rows[("moon_reasoning_imitation", "moon", "probe_brand_acc")]
    assert probe.difference == pytest.approx(results["moon_reasoning_imitation"]["probe_brand_acc"] - results["moon"]["probe_brand_acc"])
    # The GRPO row starts from the imitation row's finished stages.
    assert (tmp_path / "moon_reasoning_grpo" / "stages" / "posttrain" / "config.json").exists()
    assert ("moon", "random", "i2i_recall@10") not in rows  # the floor cannot embed a view alone
    assert "Paired differences" in (tmp_path / "report.md").read_text()
