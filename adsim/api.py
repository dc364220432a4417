"""The public Python API: the CLI's verbs as functions that return typed reports.

    import adsim
    cfg = adsim.load_config("experiments/smoke.toml", ["traffic.n_requests=2000"])
    report = adsim.run_ab(cfg, "/tmp/ab")          # an ABReport
    report.lift["ctr"].relative, report.to_frame() # a polars frame of every lift

Each `run_*` writes the same folder the CLI does (logs, report.json/.md/.html) and resumes from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from adsim.core.config import ExperimentConfig
from adsim.core.config import load_config as _load_config
from adsim.core.errors import ConfigError
from adsim.core.runtime.footprint import check_fits, experiment_footprint
from adsim.studies.arguments import (check_aa, check_ab, check_compare, check_exchange_coverage, check_lift_coverage,
                                     check_scale_factors, check_sweep)

if TYPE_CHECKING:
    from adsim.reports.aa_report import AAReport
    from adsim.reports.ab_report import ABReport
    from adsim.reports.bench_report import BenchReport
    from adsim.reports.scale_bench_report import ScaleBenchReport
    from adsim.reports.compare_report import CompareReport
    from adsim.reports.demo_report import DemoReport
    from adsim.reports.exchange_report import ExchangeReport
    from adsim.stats.estimates import LiftPrediction
    from adsim.realdata.replay_settings import ReplaySettings
    from adsim.reports.replay_report import ReplayReport
    from adsim.reports.replicate_report import ReplicatedABReport
    from adsim.reports.scaling_report import ScalingReport
    from adsim.reports.validation_report import CoverageReport, ExchangeCoverageReport
    from adsim.world.build import World

Log = Callable[[str], None]


def load_config(path: str | Path | None = None, overrides: Iterable[str] = ()) -> ExperimentConfig:
    """A validated config: the TOML at `path` (default: the built-in demo config) with `--set`-style
    overrides; every provider's `encoder_args` is checked too. Problems are one ConfigError."""
    from encoders.registry import check_encoders
    cfg = _load_config(path, overrides)
    check_encoders(cfg)
    return cfg


def build_world(config: ExperimentConfig) -> "World":
    """The synthetic world of `config` (a pure function of its seed, [world] and [traffic])."""
    from adsim.world.build import build_world as build
    return build(config)


def save_world(world: "World", out: str | Path, config: ExperimentConfig) -> Path:
    from adsim.world.store import save_world as save
    return save(world, out, config)


def load_world(path: str | Path) -> "World":
    from adsim.world.store import load_world as load
    return load(path)


def run_ab(config: ExperimentConfig, out: str | Path, log: Log = print, replicates: int = 1,
           workers: int = 1) -> "ABReport | ReplicatedABReport":
    """Offline A/B of every arm against `control` (run folder `out`); with `replicates` > 1, that many
    replicates (in `workers` processes) and a report whose CIs carry the spread between them."""
    check_fits(experiment_footprint(config), "this experiment")
    check_ab(replicates, workers)
    if replicates != 1:
        from adsim.studies.replicates import run_replicated_ab
        return run_replicated_ab(config, out, replicates, workers, log=log)
    from adsim.studies.ab import run_ab as run
    return run(config, out, log=log)


def run_exchange_rate(config: ExperimentConfig, out: str | Path, log: Log = print, replicates: int = 1,
                      retrain: bool = False, encoders: str | Path | None = None) -> "ExchangeReport":
    """Exchange rates across `sweep.variants` (and trained MOON variants) against `control`; with
    `replicates` > 1 the rates fit the replicates' averaged points and carry their spread, and the
    trained variants' lifts over the baseline and their controls are combined over replicates
    (with `retrain`, each replicate trains its own encoders, training seed + r). Trained encoders
    are cached under `encoders` (default out/encoders)."""
    check_sweep(replicates, retrain)
    from adsim.studies.exchange_sweep import run_exchange_rate as run
    return run(config, out, log=log, replicates=replicates, retrain=retrain, encoders=encoders)


def exchange_coverage(config: ExperimentConfig, out: str | Path, n_replicates: int = 20, truth_factor: int = 0,
                      log: Log = print) -> "ExchangeCoverageReport":
    """Exchange-rate coverage: replicate sweeps, each graded against the others pooled (and, with
    `truth_factor` > 0, against a sweep on that many times the traffic)."""
    check_exchange_coverage(n_replicates, truth_factor)
    from adsim.studies.exchange_coverage import exchange_coverage as run
    return run(config, out, n_replicates=n_replicates, truth_factor=truth_factor, log=log)


def predict_lift(sweep_dir: str | Path, changes: dict[str, float], downstream: list[str] | None = None,
                 level: float = 0.95) -> "list[LiftPrediction]":
    """Expected lift of a new model from its changes of intermediate metrics (e.g.
    {"image_search_recall@10": 3.0}), with prediction intervals, from a finished sweep's folder."""
    from adsim.studies.predict import predict_lift as predict
    return predict(sweep_dir, changes, downstream, level)


def run_scaling(config: ExperimentConfig, out: str | Path, log: Log = print) -> "ScalingReport":
    """A scaling study along `scaling.axis`, with power-law fits."""
    from adsim.studies.scaling import run_scaling as run
    return run(config, out, log=log)


def run_aa(config: ExperimentConfig, out: str | Path, n: int = 20, alpha: float = 0.05, log: Log = print,
           replicates: int = 1, workers: int = 1) -> "AAReport":
    """`n` A/A runs (identical arms, independent click streams): the false-positive rate at `alpha`.
    With `replicates` > 1 the full pipeline: twins trained from other seeds, judged by the combined CI."""
    check_aa(n, alpha, replicates, workers)
    from adsim.studies.aa import aa_study
    return aa_study(config, out, n_sims=n, alpha=alpha, log=log, replicates=replicates, workers=workers)


def lift_coverage(config: ExperimentConfig, out: str | Path, n_draws: int = 100, truth_factor: int = 10,
                  log: Log = print) -> "CoverageReport":
    """Lift coverage: the config's control and treatment trained once, served on `n_draws` traffic
    draws; the share of 95 % CIs that cover the lift in expected metrics on `truth_factor` x the traffic."""
    check_lift_coverage(n_draws, truth_factor, config.arms)
    from adsim.studies.coverage import lift_coverage as run
    return run(config, out, n_draws=n_draws, truth_factor=truth_factor, log=log)


def run_benchmark(config: ExperimentConfig, out: str | Path, log: Log = print) -> "BenchReport":
    """Serving throughput end to end and per stage, at three catalogue sizes."""
    from adsim.benchmarks.throughput import bench
    return bench(config, out, log=log)


def run_scale_benchmark(config: ExperimentConfig, out: str | Path, factors: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0),
                        log: Log = print) -> "ScaleBenchReport":
    """How world building, serving and peak RSS grow with items, users and requests (`adsim bench --scale`)."""
    check_scale_factors(factors)
    from adsim.benchmarks.bench_scale import bench_scale
    return bench_scale(config, out, factors=factors, log=log)


def arm_providers(config: ExperimentConfig, arms: Iterable[str] | None = None,
                  world: "World | None" = None) -> tuple["World", dict]:
    """The world and the embedding providers of the config's arms (all arms by default)."""
    from adsim.runs.protocol import arm_encoder_args
    from encoders.registry import make_provider
    names = list(arms) if arms is not None else list(config.arms)
    for arm in names:
        if arm not in config.arms:
            raise ConfigError(f"--arm {arm}: no such arm (arms: {sorted(config.arms)})")
    world = world or build_world(config)
    specs = {a: config.arms[a] for a in names}
    return world, {a: make_provider(s.encoder, arm_encoder_args(a, s.encoder, s.encoder_args), world) for a, s in specs.items()}


def encoder_metrics(config: ExperimentConfig, arms: Iterable[str] | None = None,
                    world: "World | None" = None) -> dict[str, dict[str, float]]:
    """The intermediate metrics of the config's arm encoders (all arms by default)."""
    from adsim.runs.intermediate import provider_metrics
    world, providers = arm_providers(config, arms, world)
    return {a: provider_metrics(world, p, seed=config.seed) for a, p in providers.items()}


def compare_encoders(config: ExperimentConfig, out: str | Path, log: Log = print, seeds: int = 1,
                     encoders: str | Path | None = None, rows: tuple[str, ...] | None = None) -> "CompareReport":
    """The floor, MiniLM, CLIP, MOON with its stage ablation, each MOON2.0/3.0 component and the
    compute-matched controls, each trained row under `seeds` training seeds (trained encoders
    cached under `encoders`, default out/encoders), with paired differences."""
    check_compare(seeds, rows)
    from adsim.studies.encoder_compare import compare
    return compare(config, out, log=log, seeds=seeds, encoders=encoders, rows=rows)


def run_demo(config: ExperimentConfig, out: str | Path = "logs/demo", log: Log = print) -> "DemoReport":
    """What `make demo` runs: world, cached MOON encoder, A/B against its pre-trained incumbent, a sweep."""
    from adsim.studies.demo import run_demo as run
    return run(config, out, log=log)


def run_replay(data: str | Path, fmt: str, embeddings: dict[str, Path], out: str | Path,
               settings: "ReplaySettings | None" = None) -> "ReplayReport":
    """The ranker replayed on a real log (`fmt` taobao or amazon, files in `data`): ID-only and one
    ranker per embedding set {name: Parquet file keyed by the dataset's item ids}, scored on the
    held-out split with AUC, gAUC and log-loss intervals."""
    from adsim.realdata.replay import run_replay as run
    from adsim.realdata.replay_settings import ReplaySettings
    return run(data, fmt, embeddings, out, settings or ReplaySettings())


def write_fixture(fmt: str, out: str | Path, signal: str = "embeddings", seed: int = 0, gzip: bool = False,
                  size: str = "small") -> Path:
    """A log in a public format (taobao or amazon) with a known click model, and an item-embedding
    file beside it that carries the clicks' signal or (signal="none") does not; `size` "full" writes
    a Taobao log of the real dump's shape (26 M impressions, about 110 M behaviour events)."""
    from adsim.datasets.fixtures import write_fixture as write
    return write(fmt, out, signal=signal, seed=seed, gzip=gzip, size=size)
