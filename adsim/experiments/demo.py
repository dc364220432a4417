"""`adsim demo`: the whole workflow on the demo world, in one command.

1. Build the world (experiments/demo.toml) and save a contact sheet of its products.
2. Train a MOON-style encoder on it, cached under OUT/cache/ by a hash of everything that shapes
   it (a second run loads it), keeping a snapshot of the model every SNAPSHOT_EVERY post-training steps.
3. Offline A/B: the incumbent (control: the encoder after pre-training, an image-text aligned
   CLIP-like model that has not yet learnt from search behaviour) vs the post-trained MOON encoder
   (treatment): a model iteration as a team would ship it.
4. An exchange-rate sweep against the same control: the MOON arm, its snapshots along post-training,
   its smaller Matryoshka sizes and a 4-bit quantisation, and latent-noise profiles that differ in
   visual, textual and overall noise.
5. A summary table on stdout and OUT/report.html linking the A/B and exchange-rate reports.

Arms and their outcomes live in OUT/run/, so a rerun reuses every finished step.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Callable

from adsim.core.config import ArmConfig, ExperimentConfig
from adsim.core.files import write_text
from adsim.experiments.ab import run_ab
from adsim.experiments.encoder_cache import snapshot_arms, trained_moon
from adsim.experiments.exchange_sweep import run_exchange_rate
from adsim.experiments.rate_fit import predict
from encoders.train import snapshot_folders
from adsim.reports.demo_report import DemoReport
from adsim.reports.html_page import markdown_to_html
from adsim.world.build import build_world
from adsim.world.gallery import save_contact_sheet

PREDICTED_CHANGE = 3.0  # points of the best intermediate metric, for the summary's worked prediction
SNAPSHOT_EVERY = 25     # post-training steps between the MOON snapshots the sweep serves
COMPRESSED = {"moon_dim32": {"dim": 32}, "moon_dim64": {"dim": 64}, "moon_4bit": {"bits": 4}}
DEMO_NOISE_PROFILES = {"all_0.3": {"noise": 0.3}, "all_1.0": {"noise": 1.0},
                       "visual_0.4": {"noise": 1.0, "visual_noise": 0.4}, "text_0.4": {"noise": 1.0, "text_noise": 0.4}}


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
    moon = trained_moon(cfg, world, cfg.encoder_train, out / "cache", "moon", log, snapshot_every=SNAPSHOT_EVERY)
    log(f"MOON encoder ready: {moon}")
    timings["encoder"] = time.perf_counter() - t

    snapshots = snapshot_arms(moon, "moon")
    last = max(snapshot_folders(moon))
    arms = {"control": snapshots.pop("moon_step0"), "treatment": ArmConfig("moon", {"path": str(moon)})}
    snapshots.pop(f"moon_step{last}", None)  # the final snapshot is the treatment
    demo_cfg = dataclasses.replace(cfg, arms=arms)
    t = time.perf_counter()
    ab = run_ab(demo_cfg, out / "run", log=log, world=world, report_dir=out / "ab")
    timings["ab"] = time.perf_counter() - t
    t = time.perf_counter()
    variants = ({"treatment": arms["treatment"]} | snapshots
                | {n: ArmConfig("moon", {"path": str(moon)} | a) for n, a in COMPRESSED.items()}
                | {n: ArmConfig("latent-noise", a) for n, a in DEMO_NOISE_PROFILES.items()})
    ex = run_exchange_rate(demo_cfg, out / "run", log=log, world=world, variants=variants, report_dir=out / "exchange")
    timings["exchange_rate"] = time.perf_counter() - t

    best = ex.best
    prediction = (predict(ex.exchange_rates[best.intermediate][ex.primary], best.intermediate, ex.primary, PREDICTED_CHANGE)
                  if best else None)
    report = DemoReport(ab=ab, exchange_rate=ex, timings=timings, prediction=prediction, folder=str(out))
    write_text(report.summary, out / "summary.md")
    write_text(markdown_to_html(report.summary, "adsim demo"), out / "report.html")
    return report
