"""Saved results know what made them: a changed source hash or weights file forces a recompute."""

import dataclasses
from pathlib import Path

import numpy as np
import polars as pl

from adsim.core.config import load_config
from adsim.studies.ab import run_ab
from tests.support import SMOKE


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and np.allclose(list(a.values()), list(b.values()), equal_nan=True, rtol=0, atol=0)


def _cfg(tmp_path, items: np.ndarray, queries: np.ndarray):
    paths = {}
    for name, arr, col in (("items", items, "item_id"), ("queries", queries, "request_id")):
        paths[name] = tmp_path / f"{name}.parquet"
        pl.DataFrame({col: np.arange(len(arr)), "embedding": arr}).write_parquet(paths[name])
    arm = f'arms.treatment={{encoder="precomputed", encoder_args={{items="{paths["items"]}", queries="{paths["queries"]}"}}}}'
    return load_config(SMOKE, ["traffic.n_requests=1000", arm]), paths


def test_code_and_weight_changes_force_a_recompute(smoke_world, tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    items = rng.normal(size=(1500, 8)).astype(np.float32)
    queries = rng.normal(size=(3000, 8)).astype(np.float32)  # two served days and the held-out day of 1,000 requests
    cfg, paths = _cfg(tmp_path, items, queries)
    run = tmp_path / "run"
    first = run_ab(cfg, run, log=lambda _: None)

    logs = []
    run_ab(cfg, run, log=logs.append)
    assert any("reusing 2 finished arm(s)" in line for line in logs) and not any("stale" in line for line in logs)

    # New weights in the file the treatment reads (same path, same settings): only that arm reruns.
    _cfg(tmp_path, items[::-1].copy(), queries)
    logs = []
    again = run_ab(cfg, run, log=logs.append)
    assert any("reusing 1 finished arm(s)" in line for line in logs)
    assert any("stale" in line and "treatment" in line for line in logs)
    assert again.arms["treatment"].metrics["ctr"] != first.arms["treatment"].metrics["ctr"]
    assert same(again.arms["control"].metrics, first.arms["control"].metrics)

    # Other code: day 0 and every arm are recomputed, and come out the same (the code did not really change).
    monkeypatch.setattr("adsim.runs.arm.code_version", lambda scope: "0+other")
    monkeypatch.setattr("adsim.runs.protocol.code_version", lambda scope: "0+other")
    logs = []
    redone = run_ab(cfg, run, log=logs.append)
    assert any(line.startswith("day 0: the saved bootstrap logs are stale") for line in logs)
    assert any("rerunning 2 arm(s) whose saved outcome is stale" in line for line in logs)
    assert same(redone.arms["control"].metrics, again.arms["control"].metrics)
    parts = list((run / "logs" / "impressions" / "arm=bootstrap" / "day=0").glob("part-*.parquet"))
    assert len(parts) == 1  # the rerun replaced day 0's log parts rather than adding to them


def test_a_trained_encoders_key_carries_the_clicks_it_learned_from():
    """Past clicks are what an encoder learns from, so a world with another click model (a calibrated
    `ctr_shift`) trains another encoder; an unrelated setting (the ranker's) does not."""
    from adsim.runs.encoder_cache import _digest
    from adsim.world.build import WorldSpec
    key = lambda *changes: _digest(WorldSpec.of(load_config(SMOKE, list(changes))), load_config(SMOKE).encoder_train)
    assert key() == key("ranker.seed=5")
    assert key() != key("clicks.ctr_shift=-1.0") and key() != key("clicks.position_decay=1.2") and key() != key("replicate=1")


def _ask_while_held(held, ask) -> list[str]:
    """Start `ask(log)` in a thread while `held` (a folder) is locked as another process would hold
    it (flock locks belong to each open file, so a thread stands in for the other process); once it
    waits, mark `held` trained and let go; return what it logged."""
    import threading
    import time
    from adsim.runs.encoder_cache import training_lock
    logs: list[str] = []
    thread = threading.Thread(target=ask, args=(logs.append,))
    with training_lock(held):
        thread.start()
        deadline = time.monotonic() + 30
        while not any("waiting" in line for line in logs) and time.monotonic() < deadline:
            time.sleep(0.01)
        for done in (held / "model" / "config.json", held / "stages" / "pretrain" / "config.json"):
            done.parent.mkdir(parents=True, exist_ok=True)
            done.write_text("{}")
    thread.join(30)
    assert not thread.is_alive()
    return logs


def test_an_encoder_another_process_is_training_is_waited_for_then_loaded(smoke_world, tmp_path, monkeypatch):
    """Processes sharing an `--encoders` root train each encoder once: an ask for an encoder (or
    for the pretraining it starts from) whose lock another holds waits, and finds it trained when
    the lock is let go; it trains only what is still missing."""
    from adsim.runs import encoder_cache
    from encoders.training import train
    cfg = load_config(SMOKE)
    enc = cfg.encoder_train
    trained = []
    monkeypatch.setattr(train, "train_encoder", lambda view, c, out, **kw: trained.append((Path(out).name, kw.get("stages"))))
    monkeypatch.setattr(train, "reuse_pretraining", lambda *args: None)
    digest = lambda e: encoder_cache._digest(smoke_world.spec, e)
    ask = lambda e: lambda log: encoder_cache.trained_encoder(cfg, smoke_world, e, tmp_path, "moon", log)

    folder = tmp_path / f"moon-{digest(enc)}"
    logs = _ask_while_held(folder, ask(enc))
    assert f"{folder.name} is being trained by another process; waiting for it" in logs and trained == []

    other = dataclasses.replace(enc, seed=1)  # its pretraining is in training elsewhere: wait, then post-train only
    shared = tmp_path / f"pretrain-{digest(other.pretraining())}"
    logs = _ask_while_held(shared, ask(other))
    assert f"{shared.name} is being trained by another process; waiting for it" in logs
    assert trained == [(f"moon-{digest(other)}", None)]
