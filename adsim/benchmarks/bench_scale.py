"""`adsim bench --scale`: how world building, serving and memory grow with the catalogue, the
users and the traffic, before anyone runs big.

One axis at a time is multiplied by each factor, the others kept at the config's sizes. Every
point runs in a fresh spawned process, so its peak RSS is its own; the growth exponent of each
cost is the least-squares slope of log cost on log size, with a t-interval over the points.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np
from scipy import stats

from adsim.core.config import ExperimentConfig
from adsim.core.files import write_json, write_text
from adsim.core.runtime.memory import peak_rss_bytes
from adsim.runs.protocol import logged_sequences
from adsim.benchmarks.throughput import bench_system
from adsim.reports.render.plots import growth_plot
from adsim.reports.scale_bench_report import GrowthFit, ScaleBenchReport, ScalePoint
from adsim.serving.engine import serve_day
from adsim.serving.timer import StageTimer
from adsim.world.build import build_world
from adsim.studies.arguments import check_scale_factors

AXES = {"items": ("world", "n_items"), "users": ("world", "n_users"), "requests": ("traffic", "n_requests")}
FACTORS = (0.25, 0.5, 1.0, 2.0)
COSTS = ("world_seconds", "serve_seconds", "rss_growth_bytes")


def scaled(cfg: ExperimentConfig, axis: str, factor: float) -> ExperimentConfig:
    """`cfg` with one axis's size multiplied by `factor`."""
    section, key = AXES[axis]
    part = getattr(cfg, section)
    size = max(100, int(round(getattr(part, key) * factor)))
    return dataclasses.replace(cfg, **{section: dataclasses.replace(part, **{key: size})})


def scale_point(cfg: ExperimentConfig, axis: str, factor: float) -> ScalePoint:
    """Build the scaled world and serve its day 1 with the control's untrained system (in a fresh
    process: the peak RSS is this point's)."""
    c = scaled(cfg, axis, factor)
    section, key = AXES[axis]
    base_rss = peak_rss_bytes()
    start = time.perf_counter()
    world = build_world(c)
    world_s = time.perf_counter() - start
    system, timer = bench_system(world, c), StageTimer()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = serve_day(world, system, 1, logged_sequences(world, c.world.seq_len), tmp, c.clicks, c.engine, timer=timer)
        serve_s = time.perf_counter() - start
    n = len(result.request_ids)
    return ScalePoint(axis=axis, size=getattr(getattr(c, section), key), world_seconds=world_s, serve_seconds=serve_s,
                      requests_per_s=n / serve_s, stage_seconds=dict(timer.seconds), peak_rss_bytes=peak_rss_bytes(),
                      rss_growth_bytes=max(peak_rss_bytes() - base_rss, 1))


def growth_exponent(size: np.ndarray, cost: np.ndarray) -> GrowthFit:
    """Slope b of log cost = a + b log size, with its 95 % t-interval (n - 2 degrees of freedom)."""
    x, y = np.log(np.asarray(size, float)), np.log(np.asarray(cost, float))
    fit = stats.linregress(x, y)
    half = stats.t.ppf(0.975, len(x) - 2) * fit.stderr if len(x) > 2 else float("nan")
    return GrowthFit(exponent=float(fit.slope), ci_low=float(fit.slope - half), ci_high=float(fit.slope + half))


def bench_scale(cfg: ExperimentConfig, out_dir: str | Path, factors: tuple[float, ...] = FACTORS,
                axes: tuple[str, ...] = tuple(AXES), log: Callable[[str], None] = print) -> ScaleBenchReport:
    """Every (axis, factor) point, one fresh process each; fits, plots and report under `out_dir`."""
    check_scale_factors(factors)
    out_dir = Path(out_dir)
    points: list[ScalePoint] = []
    for axis in axes:
        for factor in factors:
            # A fresh process per point (spawned: fork after torch's start-up can deadlock), so
            # that its peak RSS is its own; one at a time, so that none slows another.
            with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as one:
                points.append(one.submit(scale_point, cfg, axis, factor).result())
            log(points[-1].line())
    fits = {axis: {cost: growth_exponent([p.size for p in points if p.axis == axis],
                                         [getattr(p, cost) for p in points if p.axis == axis]) for cost in COSTS}
            for axis in axes}
    report = ScaleBenchReport(config_name=cfg.name, factors=list(factors), points=points, fits=fits)
    for cost in COSTS:
        growth_plot(out_dir / f"growth_{cost}.png", {a: ([p.size / getattr(getattr(cfg, AXES[a][0]), AXES[a][1])
                                                           for p in points if p.axis == a],
                                                          [getattr(p, cost) for p in points if p.axis == a]) for a in axes},
                    {a: fits[a][cost].exponent for a in axes}, cost)
    write_json(report.to_json(), out_dir / "report.json")
    write_text(report.markdown(), out_dir / "report.md")
    return report
