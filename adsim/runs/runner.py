"""Serve many arms against one control on the same traffic: spread over ranks, resumable.

Day 0 is prepared once in the calling process; each arm then trains and serves on its own
(adsim.runs.arm.run_arm): under torchrun on the ranks, one arm per rank at a time. With
`workers` > 1 a single process starts that many ranks itself (`dist.launch`, torchrun's launcher)
and they take the same path. An arm whose saved outcome matches its settings is not run again, so
an interrupted sweep resumes where it stopped.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable

from adsim.core.runtime import dist
from adsim.core.config import ArmConfig, ExperimentConfig
from adsim.core.runtime.footprint import check_fits, experiment_footprint
from adsim.core.runtime.memory import release_free_memory
from adsim.runs.arm import ArmOutcome, arm_key, resolved, run_arm, saved_state
from adsim.runs.protocol import Day0, RunContext, prepare_day0
from adsim.serving.titles import RunTitles
from adsim.world.build import World, build_world
from adsim.world.store import load_world_of, save_world


def _quiet(_: str) -> None:
    pass


def _arms_on_launched_ranks(cfg: ExperimentConfig, run_dir: Path, specs: dict[str, ArmConfig], world_dir: str) -> None:
    """`run_arms` on ranks `dist.launch` started: each reads the caller's world from `world_dir`
    (not building it again), reloads day 0 from the run folder and runs its share of the arms; the
    caller reads their saved outcomes."""
    run_arms(cfg, run_dir, specs, log=_quiet, world=load_world_of(world_dir, cfg))


def arms_on_ranks(ctx: RunContext, todo: dict[str, ArmConfig], providers: dict) -> None:
    """Under torchrun, each arm trained and served whole by one rank (arm i on rank i mod world):
    no arm's model is trained twice and no batch waits for another rank; every rank then reads the
    outcomes the others saved in the shared run folder (`run_arms`)."""
    me, names = dist.ranks(), list(todo)
    ctx.log(f"{len(names)} arm(s) over {me.world} ranks, each arm whole on one rank")
    for i, name in enumerate(names):
        if i % me.world == me.rank:
            run_arm(ctx, name, todo[name], provider=providers[name], ranks=dist.Ranks.solo())
    dist.barrier()  # every arm's outcome is saved


def run_titles(world: World, cfg: ExperimentConfig, day0: Day0) -> RunTitles:
    """The arms' title indexes: day 1's built once for every arm of this process (its search
    answers shared out over the ranks), later days carrying each arm's own answers or day 0's."""
    texts = world.requests.query_text[world.requests.day == 1] if cfg.traffic.n_days >= 2 else None
    return RunTitles(world.view.items, cfg.retrieval, first_day=1, first_texts=texts, carried=day0.lexical)


def run_arms(cfg: ExperimentConfig, run_dir: str | Path, specs: dict[str, ArmConfig], workers: int = 1,
             log: Callable[[str], None] = print, world: World | None = None) -> dict[str, ArmOutcome]:
    """Outcomes of every arm in `specs` (which must include 'control'), running only unfinished ones."""
    from encoders.registry import make_provider
    run_dir = Path(run_dir)
    check_fits(experiment_footprint(cfg), "this experiment")
    if workers > 1:
        dist.check_can_launch()  # before the world is built
    world = world or build_world(cfg)
    specs = {n: resolved(n, s, cfg.replicate) for n, s in specs.items()}
    keys = {n: arm_key(cfg, s) for n, s in specs.items()}
    states = {n: saved_state(run_dir / "arms" / n, keys[n]) for n in specs}
    outcomes = {n: ArmOutcome.load(run_dir / "arms" / n, keys[n]) if states[n] == "fresh" else None for n in specs}
    todo = {n: s for n, s in specs.items() if outcomes[n] is None}
    if len(todo) < len(specs):
        log(f"reusing {len(specs) - len(todo)} finished arm(s) of this run folder")
    stale = [n for n in todo if states[n] == "stale"]
    if stale:
        log(f"rerunning {len(stale)} arm(s) whose saved outcome is stale (settings, code or weights changed): {', '.join(stale)}")
    if not todo:
        return outcomes
    # Every provider is built (and its embeddings checked) before any work, so bad settings fail fast.
    providers = {n: make_provider(s.encoder, s.encoder_args, world) for n, s in todo.items()}
    day0 = prepare_day0(world, cfg, run_dir, log)
    release_free_memory()  # what serving day 0 freed (its system is gone), before the arms allocate
    ctx = RunContext(world, cfg, day0, run_dir, run_titles(world, cfg, day0), log)
    del day0
    if dist.ranks().world > 1 and len(todo) >= dist.ranks().world:
        arms_on_ranks(ctx, todo, providers)
        del ctx, providers  # let go before every arm's per-user sums load (0.8 GB an arm at a million users)
        release_free_memory()
        return outcomes | {n: ArmOutcome.load(run_dir / "arms" / n, keys[n]) for n in todo}
    if workers > 1 and len(todo) > 1:
        del ctx, providers
        release_free_memory()
        log(f"{len(todo)} arm(s) on {min(workers, len(todo))} launched ranks")
        with tempfile.TemporaryDirectory(dir=run_dir, prefix="world-") as world_dir:
            save_world(world, world_dir, cfg)  # a fraction of a second to write and read; seconds to minutes to build
            dist.launch(min(workers, len(todo)), _arms_on_launched_ranks, cfg, run_dir, todo, world_dir)
        return outcomes | {n: ArmOutcome.load(run_dir / "arms" / n, keys[n]) for n in todo}
    for name, spec in todo.items():
        outcomes[name] = run_arm(ctx, name, spec, provider=providers[name])
    return outcomes
