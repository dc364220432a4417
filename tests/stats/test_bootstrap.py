import numpy as np
import pytest

import adsim.stats.bootstrap as bootstrap
from adsim.core.rng import generator
from adsim.stats.bootstrap import Bootstrap, bootstrap_weights
from adsim.stats.lifts import RatioMetric, paired_lift, resampled, resampled_many, unpaired_ci_width


@pytest.mark.parametrize("block", [1 << 22, 4096, 1])
def test_one_chunk_is_the_one_call_draw_whatever_the_row_block(block, monkeypatch):
    monkeypatch.setattr(bootstrap, "ROW_BLOCK", block)
    want = generator(5, "bootstrap").poisson(1.0, (40, 3000)).astype(np.float32)
    got = bootstrap_weights(5, 3000, 40)
    assert got.dtype == np.float32 and np.array_equal(got, want)


def test_chunks_are_their_own_streams_and_cover_every_unit(monkeypatch):
    monkeypatch.setattr(bootstrap, "UNIT_CHUNK", 700)
    boot = Bootstrap(3, 2000, 30)
    dense = boot.dense()
    assert dense.shape == (30, 2000) and boot.n_chunks == 3
    assert np.array_equal(dense[:, :700], generator(3, "bootstrap").poisson(1.0, (30, 700)))
    assert np.array_equal(dense[:, 1400:], generator(3, "bootstrap", 2).poisson(1.0, (30, 600)))
    assert abs(dense.mean() - 1) < 0.02 and abs(dense.var() - 1) < 0.05  # Poisson(1)


def test_totals_accumulated_over_chunks_equal_the_dense_product(monkeypatch):
    monkeypatch.setattr(bootstrap, "UNIT_CHUNK", 333)
    rng = np.random.default_rng(0)
    cols = [rng.random(1000), rng.integers(0, 5, 1000).astype(float)]
    boot = Bootstrap(1, 1000, 50)
    np.testing.assert_allclose(boot.totals(cols), boot.dense().astype(np.float64) @ np.stack(cols, 1), rtol=1e-12)


def test_resampled_many_and_lifts_agree_with_dense_weights(monkeypatch):
    monkeypatch.setattr(bootstrap, "UNIT_CHUNK", 512)
    rng = np.random.default_rng(1)
    den = rng.integers(1, 10, 2000).astype(float)
    c = RatioMetric(rng.binomial(den.astype(int), 0.1).astype(float), den)
    t = RatioMetric(rng.binomial(den.astype(int), 0.12).astype(float), den, scale=1000.0)
    boot = Bootstrap(2, 2000, 200)
    cb, tb = resampled_many([c, t], boot)
    w = boot.dense()
    np.testing.assert_allclose(cb, resampled(c, w), rtol=1e-12)
    np.testing.assert_allclose(tb, resampled(t, w), rtol=1e-12)
    assert paired_lift(c, c, w).p_value == 1.0
    assert unpaired_ci_width(c, t, 0, 200) > 0


def test_a_million_users_table_is_never_whole(monkeypatch):
    """Peak memory is set by the chunk: summing 200 resamples over 400,000 units with 8,192-unit
    chunks allocates nothing near the 320 MB the float32 table would take."""
    import tracemalloc
    monkeypatch.setattr(bootstrap, "UNIT_CHUNK", 8192)
    col = np.ones(400_000)
    tracemalloc.start()
    tot = Bootstrap(0, 400_000, 200).totals([col])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50e6 and abs(tot.mean() / 400_000 - 1) < 0.01
