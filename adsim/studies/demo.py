"""`adsim demo`: the whole workflow on the demo world, in one command.

1. Build the world (experiments/demo.toml) and save a contact sheet of its products.
2. Train a MOON-style encoder on it, cached under OUT/cache/ by a hash of everything that shapes
   it (a second run loads it), keeping a snapshot of the model every SNAPSHOT_EVERY post-training steps.
3. Offline A/B: the incumbent (control: the encoder a third of the way through post-training, an
   earlier iteration of the same model) vs the fully post-trained MOON encoder (treatment): a model
   iteration as a team would ship it.
4. An exchange-rate sweep against the same control: the MOON arm, the other snapshots along
   post-training (pre-training only among them), and both models' smaller Matryoshka sizes and
   4-bit quantisations: variants as a team's iterations produce them.
5. A summary table on stdout and OUT/report.html linking the A/B and exchange-rate reports.

Arms and their outcomes live in OUT/run/, so a rerun reuses every finished step.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Callable

from adsim.core.config import ArmConfig, ExperimentConfig
from adsim.core.files import read_json, write_json, write_text
from adsim.studies.ab import run_ab
from adsim.runs.encoder_cache import snapshot_arms, trained_encoder
from adsim.studies.exchange_sweep import run_exchange_rate
from adsim.stats.rate_fit import predict
from encoders.training.train import snapshot_folders
from adsim.reports.demo_report import DemoReport
from adsim.reports.render.html_page import markdown_to_html
from adsim.world.build import build_world
from adsim.world.gallery import save_contact_sheet

PREDICTED_CHANGE = 3.0  # points of the best intermediate metric, for the summary's worked prediction
SNAPSHOT_EVERY = 25     # post-training steps between the MOON snapshots the sweep serves
INCUMBENT = "moon_step50"  # the control: the snapshot a team would have shipped before this iteration
COMPRESSED = {"dim32": {"dim": 32}, "dim64": {"dim": 64}, "4bit": {"bits": 4}}


def accumulated_timings(path: Path, key: str, timings: dict[str, float]) -> dict[str, float]:
    """The time each phase took over every run that made OUT's results: a resumed run adds its own
    seconds to those saved by the runs before it (with the same settings), so that a rerun which
    reuses everything does not report the work as taking no time."""
    saved = read_json(path) if path.exists() else {}
    before = saved.get("timings", {}) if saved.get("key") == key else {}
    total = {k: before.get(k, 0.0) + v for k, v in timings.items()}
    write_json({"key": key, "timings": total, "runs": (saved.get("runs", 0) if before else 0) + 1}, path)
    return total


def run_demo(cfg: ExperimentConfig, out: str | Path, log: Callable[[str], None] = print) -> DemoReport:
    """The whole workflow (see the module docstring); every step reuses what OUT already holds."""
    out = Path(out)
    timings = {}
    t = time.perf_counter()
    world = build_world(cfg)
    save_contact_sheet(world, out / "products.png")
    timings["world"] = time.perf_counter() - t
    log(f"world: {len(world.items.item_id):,} items, {len(world.users.user_id):,} users, "
        f"{len(world.requests.request_id):,} requests ({timings['world']:.0f}s)")

    t = time.perf_counter()
    moon = trained_encoder(cfg, world, cfg.encoder_train, out / "cache", "moon", log, snapshot_every=SNAPSHOT_EVERY)
    log(f"MOON encoder ready: {moon}")
    timings["encoder"] = time.perf_counter() - t

    snapshots = snapshot_arms(moon, "moon")
    snapshots.pop(f"moon_step{max(snapshot_folders(moon))}", None)  # the final snapshot is the treatment
    arms = {"control": snapshots.pop(INCUMBENT), "treatment": ArmConfig("moon", {"path": str(moon)})}
    demo_cfg = dataclasses.replace(cfg, arms=arms)
    t = time.perf_counter()
    ab = run_ab(demo_cfg, out / "run", log=log, world=world, report_dir=out / "ab")
    timings["ab"] = time.perf_counter() - t
    t = time.perf_counter()
    compressed = {f"{name}_{c}": ArmConfig("moon", arms[a].encoder_args | args)
                  for name, a in (("moon", "treatment"), ("incumbent", "control")) for c, args in COMPRESSED.items()}
    variants = {"treatment": arms["treatment"]} | snapshots | compressed
    ex = run_exchange_rate(demo_cfg, out / "run", log=log, world=world, variants=variants, report_dir=out / "exchange")
    timings["exchange_rate"] = time.perf_counter() - t

    timings = accumulated_timings(out / "timings.json", cfg.hash(), timings)
    best = ex.best
    prediction = (predict(ex.exchange_rates[best.intermediate][ex.primary], best.intermediate, ex.primary, PREDICTED_CHANGE)
                  if best else None)
    report = DemoReport(ab=ab, exchange_rate=ex, timings=timings, prediction=prediction, folder=str(out))
    write_text(report.summary, out / "summary.md")
    write_text(markdown_to_html(report.summary, "adsim demo", out), out / "report.html")
    return report
