"""One arm of an experiment, end to end: train it on day 0, serve it over every later day, and
keep its outcome (model and intermediate metrics, per-user sums of every metric and slice).

With more than one serving day each user's behaviour sequence grows by the clicks the arm itself
produced (updated between days, not within one), and with `engine.retrain_daily` the ranker is
retrained every morning on the arm's own logs of the day before, with the sequences those
impressions were served with (so a click never leaks into its own features): the feedback loop
of a deployed system. An outcome is saved under `arms/<name>/`, keyed by a hash of everything
that shapes it, so an interrupted sweep resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from adsim.core.runtime import dist
from adsim.core.config import ArmConfig, ExperimentConfig
from adsim.core.errors import DataError
from adsim.core.files import nan_for_null, read_json, read_npz, write_json, write_npz
from adsim.core.runtime.memory import memory_note, release_free_memory
from adsim.core.validation import digest
from adsim.core.versions import code_version
from adsim.core.vocab import in_model_metric_order
from adsim.runs.intermediate import provider_intermediate
from adsim.runs.outcomes import OutcomeSums, outcome_sums
from adsim.runs.protocol import RunContext, arm_encoder_args, read_impressions
from adsim.stats.lifts import RatioMetric
from adsim.runs.training import fit_ranker, grown_sequences, train_arm
from adsim.serving.engine import serve_day
from adsim.serving.records import DayResult
from adsim.serving.system import ArmEmbeddings, ArmSystem
from adsim.serving.titles import RunTitles
from encoders.provider import EmbeddingProvider
from encoders.registry import input_digest, make_provider


@dataclass
class ArmOutcome:
    """One arm's results: model and intermediate metrics, and per-user sums of every metric and slice."""

    name: str
    spec: dict
    model_metrics: dict[str, float]
    intermediate: dict[str, float]
    sums: OutcomeSums
    seconds: float = 0.0
    per_unit: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)  # held-out-query values behind `intermediate`

    def __post_init__(self) -> None:
        self.model_metrics = in_model_metric_order(self.model_metrics)

    def save(self, folder: Path, key: str) -> None:
        flat = self.sums.flat()
        names = list(flat)  # one array a sum and side: stacking them would copy 0.8 GB at a million users
        write_npz({f"{side}{i}": getattr(flat[n], side) for i, n in enumerate(names) for side in ("num", "den")},
                  folder / "sums.npz")
        write_npz(self.per_unit, folder / "intermediate_units.npz")
        write_json({"key": key, "name": self.name, "spec": self.spec, "model_metrics": self.model_metrics,
                    "intermediate": self.intermediate, "seconds": self.seconds, "sums": names,
                    "scales": [flat[n].scale for n in names]}, folder / "outcome.json")

    @classmethod
    def load(cls, folder: Path, key: str) -> "ArmOutcome | None":
        """The saved outcome if it exists and was made with the same settings, code and input
        files, else None (`saved_state` tells a missing outcome from a stale one)."""
        meta = read_json(folder / "outcome.json") if (folder / "outcome.json").exists() else None
        if meta is None or meta.get("key") != key:
            return None
        try:
            z = read_npz(folder / "sums.npz")
            flat = {n: RatioMetric(num=z[f"num{i}"], den=z[f"den{i}"], scale=s)
                    for i, (n, s) in enumerate(zip(meta["sums"], meta["scales"]))}
            per_unit = read_npz(folder / "intermediate_units.npz")
        except (DataError, KeyError) as err:
            raise DataError(f"{folder}: unreadable saved arm outcome ({err}); delete the folder to rerun it") from None
        return cls(name=meta["name"], spec=meta["spec"], model_metrics=nan_for_null(meta["model_metrics"]),
                   intermediate=nan_for_null(meta["intermediate"]), sums=OutcomeSums.from_flat(flat), seconds=meta["seconds"],
                   per_unit=per_unit)


def arm_key(cfg: ExperimentConfig, spec: ArmConfig) -> str:
    """A hash of everything that shapes an arm's outcome: the settings, the code, and the contents
    of any file its provider reads."""
    return digest({"system": cfg.system_dict(), "arm": dataclasses.asdict(spec), "code": code_version("experiment"),
                   "inputs": input_digest(spec.encoder, spec.encoder_args)})


def saved_state(folder: Path, key: str) -> str:
    """"missing", "fresh" (saved with this key) or "stale" (saved by other settings, code or weights)."""
    meta_path = folder / "outcome.json"
    if not meta_path.exists():
        return "missing"
    return "fresh" if read_json(meta_path).get("key") == key else "stale"


def resolved(name: str, spec: ArmConfig, replicate: int = 0) -> ArmConfig:
    """The arm as it runs: with its own random stream where its provider draws one per arm (drawn
    afresh in a replicate)."""
    return dataclasses.replace(spec, encoder_args=arm_encoder_args(name, spec.encoder, spec.encoder_args, replicate))


def serve_days(ctx: RunContext, system: ArmSystem, spec: ArmConfig, metrics: dict[str, float],
               ranks: dist.Ranks | None = None) -> dict[int, DayResult]:
    """Serve days 1.. with the feedback loop (see the module docstring); retraining adds its
    metrics to `metrics` under `day=<d>/`."""
    world, cfg, run_dir, log = ctx.world, ctx.cfg, ctx.run_dir, ctx.log
    results, seq, own_clicks = {}, ctx.day0.seq, []
    for day in range(1, cfg.traffic.n_days):
        if day > 1:
            yesterday = read_impressions(run_dir, system.name, day - 1)
            if cfg.engine.retrain_daily:  # on yesterday's own logs, with the sequences they were served with
                ranker, day_metrics = fit_ranker(world, cfg, system.embeddings, spec, yesterday, seq, ranks)
                system = dataclasses.replace(system, ranker=ranker)
                metrics |= {f"day={day}/{k}": v for k, v in day_metrics.items()}
            own_clicks.append(yesterday.filter(pl.col("click")))
            seq = grown_sequences(world, pl.concat(own_clicks), cfg.world.seq_len)
        t = time.perf_counter()
        results[day] = serve_day(world, system, day, seq, run_dir, cfg.clicks, cfg.engine, ranks=ranks)
        release_free_memory()
        n, s = len(results[day].request_ids), time.perf_counter() - t
        log(f"  {system.name}: day {day} served {n:,} requests in {s:.0f}s ({n / s:,.0f} a second, index build included; {memory_note()})")
    return results


def run_arm(ctx: RunContext, name: str, spec: ArmConfig, provider: EmbeddingProvider | None = None,
            ranks: dist.Ranks | None = None) -> ArmOutcome:
    """Train one arm on day 0 and serve it over every later day; reuse a saved outcome when one matches.
    `provider`: the arm's embedding provider if the caller already built it; `ranks`: who serves it
    (default every rank, sharing its days; `Ranks.solo()` for an arm this rank runs alone)."""
    world, cfg, log = ctx.world, ctx.cfg, ctx.log
    spec = resolved(name, spec, cfg.replicate)
    folder, key = ctx.run_dir / "arms" / name, arm_key(cfg, spec)
    state = saved_state(folder, key)
    if state == "fresh":
        log(f"  {name}: reusing its saved outcome")
        return ArmOutcome.load(folder, key)
    if state == "stale":
        log(f"  {name}: its saved outcome is stale (settings, code or weights changed); rerunning it")
    t0 = time.perf_counter()
    provider = provider or make_provider(spec.encoder, spec.encoder_args, world)
    retrieval = cfg.stage("retrieval", spec)
    titles = ctx.titles or RunTitles(world.view.items, retrieval, carried=ctx.day0.lexical)
    emb = ArmEmbeddings.of(name, provider, world.view.items, retrieval, titles)
    system, metrics = train_arm(ctx, name, spec, emb, ranks or dist.ranks())
    release_free_memory()  # training's batches and optimizer state
    results = serve_days(ctx, system, spec, metrics, ranks)
    del system, emb  # the index, the models and the arm's catalogue embeddings are served
    release_free_memory()
    t = time.perf_counter()
    measured = provider_intermediate(world, provider, seed=cfg.run_seed)
    log(f"  {name}: intermediate metrics in {time.perf_counter() - t:.0f}s ({memory_note()})")
    sums = outcome_sums(world, results, ranks)
    del results
    release_free_memory()
    outcome = ArmOutcome(name=name, spec=dataclasses.asdict(spec), model_metrics=metrics, intermediate=measured.metrics,
                         sums=sums, seconds=time.perf_counter() - t0, per_unit=measured.per_unit)
    if (ranks or dist.ranks()).main:  # every rank serving it holds the same outcome (summed over them); one writes it
        outcome.save(folder, key)
    return outcome
