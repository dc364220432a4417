"""Trained encoders for experiments, cached by a hash of everything that shapes them.

Sweeps, scaling studies, the encoder comparison and the demo ask for "a MOON (or CLIP-style)
encoder trained with these settings on this world"; the first ask trains it under `root/`, later
asks load it, so studies that point at one root share their trainings; a trained encoder's
intermediate measurement is kept beside it (`measured_encoder`). Variants that differ only in
post-training share one pretraining run (copied in), since pretraining does not read those knobs;
a GRPO variant continues a cached imitation encoder with the same other settings, if there is one.
Processes that share a root (seeds trained side by side, a sweep beside a comparison) take a lock
per encoder folder (`.lock` in it) while they check and train it: a second ask for the same
encoder waits, then loads it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np

from adsim.core.config import ArmConfig, EncoderTrainConfig, ExperimentConfig
from adsim.core.errors import DataError
from adsim.core.validation import digest
from adsim.core.versions import code_version
from adsim.world.build import World, WorldSpec

if TYPE_CHECKING:
    from adsim.runs.intermediate import IntermediateResult


def _digest(spec: WorldSpec, enc: EncoderTrainConfig, snapshot_every: int = 0, kind: str = "moon") -> str:
    """Everything that shapes a trained encoder: its kind and settings, the world it trains on (its
    clicks included: they shape the past behaviour it learns from), and the code (and the snapshots
    kept along its post-training, when asked for)."""
    parts = [dataclasses.asdict(enc.canonical()), dataclasses.asdict(spec), code_version("encoder")]
    parts = parts + [snapshot_every] if snapshot_every else parts
    return digest(parts + [kind] if kind != "moon" else parts, 10)


def _say_if_stale(root: Path, label: str, folder: Path, log: Callable[[str], None]) -> None:
    others = [p.name for p in root.glob(f"{label}-*") if p != folder and (p / "model" / "config.json").exists()]
    if others:
        log(f"training {folder.name}; the cache's other {label} encoder(s) ({', '.join(sorted(others))}) have other "
            "settings, training seeds or code")


@contextlib.contextmanager
def training_lock(folder: Path, log: Callable[[str], None] = print) -> Iterator[None]:
    """Hold `folder`'s lock (an advisory lock on `folder/.lock`) while it is checked and trained, so
    that another process asking for the same encoder in a shared root waits, then loads it. Ranks
    of one job (torchrun) train together through barriers, so they take none."""
    from adsim.core.runtime import dist
    if dist.ranks().world > 1:
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"{folder.name} is being trained by another process; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def trained_encoder(cfg: ExperimentConfig, world: World, enc: EncoderTrainConfig, root: Path, label: str,
                    log: Callable[[str], None] = print, snapshot_every: int = 0, kind: str = "moon") -> Path:
    """The folder of an encoder of `kind` ("moon" or "clip") trained with `enc` on `world`, training
    it if needed (saving the model every `snapshot_every` post-training steps: `snapshot_arms`).
    Checked under the folder's lock: a model another process is still saving is not yet complete."""
    folder = root / f"{label}-{_digest(world.spec, enc, snapshot_every, kind)}"
    with training_lock(folder, log):
        if not (folder / "model" / "config.json").exists():
            _train(world, enc, root, folder, label, log, snapshot_every, kind)
    return folder


def _train(world: World, enc: EncoderTrainConfig, root: Path, folder: Path, label: str, log: Callable[[str], None],
           snapshot_every: int, kind: str) -> None:
    """Train `folder`'s encoder, from a shared pretraining run (trained here, under its own lock,
    if no process has) and, for GRPO, from a cached imitation run's first two stages."""
    from encoders.training.train import reuse_pretraining, train_encoder
    _say_if_stale(root, label, folder, log)
    shared_cfg = enc.pretraining()
    shared = root / f"pretrain-{_digest(world.spec, shared_cfg, kind=kind)}"
    if enc.pretrain_steps > 0 and shared != folder:
        with training_lock(shared, log):
            if not (shared / "stages" / "pretrain" / "config.json").exists():
                log(f"pretraining a {kind} encoder ({enc.pretrain_steps} steps) -> {shared}")
                train_encoder(world.view, shared_cfg, shared, progress=sys.stderr.isatty(), stages=("pretrain",), kind=kind)
        reuse_pretraining(shared, folder)
    if enc.reasoning == "grpo":  # its first two stages are an imitation run's: reuse a cached one
        twin = next((p for p in sorted(root.glob(f"*-{_digest(world.spec, enc.before_grpo())}"))
                     if (p / "model" / "config.json").exists()), None)
        if twin is not None:
            reuse_pretraining(twin, folder, ("pretrain", "posttrain"))
    log(f"post-training the {kind} encoder {label} ({enc.posttrain_steps} steps) -> {folder}")
    train_encoder(world.view, enc, folder, progress=sys.stderr.isatty(), snapshot_every=snapshot_every, kind=kind)


def snapshot_arms(folder: Path, label: str) -> dict[str, ArmConfig]:
    """One arm per snapshot a training run kept, "<label>_step<k>" (step 0: pretraining only)."""
    from encoders.training.train import snapshot_folders
    return {f"{label}_step{k}": ArmConfig("moon", {"path": str(p)}) for k, p in snapshot_folders(folder).items()}


def moon_arm(cfg: ExperimentConfig, world: World, root: Path, label: str, log: Callable[[str], None] = print,
             snapshot_every: int = 0, **changes) -> ArmConfig:
    """An arm spec for a MOON encoder trained with `cfg.encoder_train` plus `changes` (cached under `root`)."""
    enc = dataclasses.replace(cfg.encoder_train, **changes)
    return ArmConfig("moon", {"path": str(trained_encoder(cfg, world, enc, root, label, log, snapshot_every))})


def measured_encoder(world: World, folder: Path, kind: str = "moon", log: Callable[[str], None] = print) -> "IntermediateResult":
    """The intermediate metrics and per-unit values of the encoder trained into `folder`, measured
    once: kept beside it under a key of the world measured on, the code that runs and measures an
    encoder, and the checkpoint's files, so a rerun (more seeds, a rescore) reads them back. The
    per-query hits are not kept: the result's `hits` is empty."""
    from adsim.core.files import read_npz, write_npz
    from encoders.registry import input_digest, make_provider
    from adsim.runs.intermediate import IntermediateResult, provider_intermediate
    key = digest([dataclasses.asdict(world.spec), code_version("experiment"), input_digest(kind, {"path": str(folder)})], 12)
    path = folder / "measured" / f"{key}.npz"
    if path.exists():
        try:
            saved = read_npz(path)
            metrics = dict(zip(saved["metric_names"].tolist(), saved["metric_values"].tolist()))
            per_unit = {k[len("unit:"):]: v for k, v in saved.items() if k.startswith("unit:")}
            return IntermediateResult(metrics=metrics, hits={}, per_unit=per_unit)
        except (DataError, KeyError):
            log(f"cannot read the measurement {path}; measuring {folder.name} again")
    result = provider_intermediate(world, make_provider(kind, {"path": str(folder)}, world), seed=world.seed)
    write_npz({"metric_names": np.array(list(result.metrics), dtype=str),
               "metric_values": np.array(list(result.metrics.values()), dtype=np.float64),
               **{f"unit:{m}": v for m, v in result.per_unit.items()}}, path)
    return dataclasses.replace(result, hits={})
