"""`adsim demo`: the whole workflow on the demo world, in one command.

1. Build the world (experiments/demo.toml) and save a contact sheet of its products.
2. Train a MOON-style encoder on it, cached under OUT/cache/ by a hash of everything that shapes
   it (a second run loads it).
3. Offline A/B: the random-projection floor (control) vs the trained MOON encoder (treatment).
4. A small exchange-rate sweep against the same control: the MOON arm plus latent-noise profiles
   that differ in visual, textual and overall noise.
5. A summary table on stdout and OUT/report.html linking the A/B and exchange-rate reports.

Arms and their outcomes live in OUT/run/, so a rerun reuses every finished step.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Callable

from adsim.core.config import ArmConfig, ExperimentConfig
from adsim.experiments.encoder_cache import trained_moon
from adsim.reports.html_page import markdown_to_html
from adsim.core.files import write_text
from adsim.world.build import build_world

DEMO_NOISE_PROFILES = {"all_0.3": {"noise": 0.3}, "all_1.0": {"noise": 1.0},
                       "visual_0.4": {"noise": 1.0, "visual_noise": 0.4}, "text_0.4": {"noise": 1.0, "text_noise": 0.4}}
SUMMARY_METRICS = ("ctr", "rpm", "clicks_per_request", "relevance_rate", "coverage", "retrieval_recall")


def run_demo(cfg: ExperimentConfig, out: str | Path, log: Callable[[str], None] = print) -> dict:
    from adsim.experiments.ab import run_ab
    from adsim.experiments.exchange_sweep import rate_text, run_exchange_rate
    from adsim.world.gallery import save_contact_sheet
    out = Path(out)
    timings = {}
    t = time.perf_counter()
    world = build_world(cfg)
    save_contact_sheet(world, out / "products.png")
    timings["world"] = time.perf_counter() - t
    log(f"world: {len(world.items.item_id):,} items, {len(world.users.user_id):,} users, "
        f"{len(world.requests.request_id):,} requests ({timings['world']:.0f}s)")

    t = time.perf_counter()
    moon = trained_moon(cfg, world, cfg.encoder_train, out / "cache", "moon", log)
    log(f"MOON encoder ready: {moon}")
    timings["encoder"] = time.perf_counter() - t

    arms = {"control": ArmConfig("random"), "treatment": ArmConfig("moon", {"path": str(moon)})}
    demo_cfg = dataclasses.replace(cfg, arms=arms)
    t = time.perf_counter()
    ab = run_ab(demo_cfg, out / "run", log=log, world=world, report_dir=out / "ab")
    timings["ab"] = time.perf_counter() - t
    t = time.perf_counter()
    variants = {"treatment": arms["treatment"]} | {n: ArmConfig("latent-noise", a) for n, a in DEMO_NOISE_PROFILES.items()}
    ex = run_exchange_rate(demo_cfg, out / "run", log=log, world=world, variants=variants, report_dir=out / "exchange")
    timings["exchange_rate"] = time.perf_counter() - t

    summary = summary_markdown(ab, ex, timings, rate_text)
    write_text(summary, out / "summary.md")
    write_text(markdown_to_html(summary, "adsim demo"), out / "report.html")
    return {"ab": ab, "exchange_rate": ex, "timings": timings, "summary": summary}


def summary_markdown(ab: dict, ex: dict, timings: dict[str, float], rate_text) -> str:
    fmt = lambda v: f"{v * 100:+.1f}%"
    lift = ab["lift"]
    inter = {a: ab["arms"][a]["intermediate_metrics"] for a in ("control", "treatment")}
    lines = ["# adsim demo", "", "Offline A/B on the demo world: random-projection floor (control) vs the MOON-style encoder "
             "trained here (treatment); lifts with 95 % paired-bootstrap CIs.", "",
             "| metric | control | treatment | lift | 95% CI |", "| --- | ---: | ---: | ---: | --- |"]
    for m in SUMMARY_METRICS:
        l = lift[m]
        lines.append(f"| {m} | {l['control']:.4g} | {l['treatment']:.4g} | {fmt(l['relative'])} | [{fmt(l['ci_low'])}, {fmt(l['ci_high'])}] |")
    for m in ("image_search_recall@10", "text_recall@10", "multimodal_recall@10"):
        lines.append(f"| {m} (intermediate) | {inter['control'][m]:.3f} | {inter['treatment'][m]:.3f} | – | – |")
    power = ab["power"]["treatment"]
    lines += ["", "Minimum detectable effect at this traffic (α 0.05, power 0.8): "
              + ", ".join(f"{m} {v['mde_relative'] * 100:.1f}%" for m, v in power.items()) + ".", ""]
    best = ex["best"]
    if best:
        lines += ["## Exchange rate", "", f"Across {len(ex['variants'])} embedding variants against the same control, the "
                  f"intermediate metric that best predicts **{ex['primary']}** is **{best['intermediate']}**: "
                  + rate_text(best["intermediate"], ex["primary"], best) + ".", ""]
        lines += [f"![{p}](exchange/{p})" for p in ex["plots"][:2]] + [""]
    lines += ["Full reports: [A/B](ab/report.html) (ab/report.md), [exchange rates](exchange/report.html) (exchange/report.md).", "",
              "Time: " + ", ".join(f"{k} {v:.0f}s" for k, v in timings.items()) + ".", ""]
    return "\n".join(lines)
