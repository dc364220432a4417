"""`adsim bench --scale`: growth exponents that recover a known power, and a real run's report."""

import numpy as np
import pytest

from adsim.core.config import load_config
from adsim.benchmarks.bench_scale import bench_scale, growth_exponent, scaled
from tests.support import SMOKE, one_line_error, run_cli


@pytest.mark.parametrize("power", [0.0, 1.0, 1.5])
def test_growth_exponent_recovers_the_power_and_its_interval_covers_it(power):
    size = np.array([1e3, 2e3, 4e3, 8e3, 16e3])
    noise = np.exp(np.random.default_rng(0).normal(0, 0.05, len(size)))
    fit = growth_exponent(size, 3.0 * size ** power * noise)
    assert abs(fit.exponent - power) < 0.1 and fit.ci_low < power < fit.ci_high


def test_scaled_multiplies_one_axis_only():
    cfg = load_config(SMOKE)
    c = scaled(cfg, "users", 2.0)
    assert c.world.n_users == 2 * cfg.world.n_users and c.world.n_items == cfg.world.n_items
    assert scaled(cfg, "requests", 0.5).traffic.n_requests == cfg.traffic.n_requests // 2


def test_a_small_run_serves_more_requests_in_more_time(tmp_path):
    report = bench_scale(load_config(SMOKE), tmp_path, factors=(0.5, 1.0, 2.0), axes=("requests",), log=lambda _: None)
    sizes = [p.size for p in report.points]
    assert sizes == sorted(sizes) and len(sizes) == 3
    assert all(p.peak_rss_bytes > p.rss_growth_bytes > 0 for p in report.points)
    assert report.fits["requests"]["serve_seconds"].exponent > 0.3  # more traffic takes longer to serve
    assert {f.name for f in tmp_path.iterdir()} >= {"report.json", "report.md", "growth_serve_seconds.png"}


def test_the_cli_refuses_too_few_factors(tmp_path):
    result = run_cli("bench", "--scale", "--config", str(SMOKE), "--factors", "1", "1", "2", "--out", str(tmp_path))
    assert one_line_error(result, "at least three different positive --factors")
