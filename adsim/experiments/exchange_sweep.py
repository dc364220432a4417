"""`adsim exchange-rate`: run a sweep of embedding variants and write the exchange-rate analysis.

DIR/report.json holds `exchange_rates.<intermediate>.<downstream>.{slope, ci_low, ci_high, r2,
spearman, loo_rmse}`, `ranking.<downstream>` (best predictor first) and per-variant lifts and
slices; DIR/report.md and DIR/report.html read as the finished analysis; DIR/plots/*.png.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from adsim.experiments.ab import N_BOOTSTRAP, fmt, arm_lifts
from adsim.core.config import ArmConfig, ExperimentConfig
from adsim.experiments.encoder_cache import moon_arm
from adsim.experiments.exchange import (ExchangeRate, ols, exchange_rates, in_points, rank_intermediates, shared_intermediates,
                            sweep_points)
from adsim.reports.html_page import markdown_to_html
from adsim.core.files import write_json, write_text
from adsim.reports.plots import exchange_scatter
from adsim.experiments.protocol import ArmOutcome
from adsim.experiments.stats import bootstrap_weights
from adsim.experiments.runner import run_arms
from adsim.world.build import World, build_world

N_PLOTS_PER_DOWNSTREAM = 3


def unit(name: str) -> str:
    return "point" if in_points(name) else "unit"


def rate_text(i: str, d: str, r: dict) -> str:
    return (f"{r['slope']:+.3g} % {d} per +1 {unit(i)} of {i} (95 % CI [{r['ci_low']:+.3g}, {r['ci_high']:+.3g}]; "
            f"R² {r['r2']:.2f}, Spearman ρ {r['spearman']:.2f}, leave-one-out error {r['loo_rmse']:.2g} % points)")


def run_exchange_rate(cfg: ExperimentConfig, out: str | Path, log: Callable[[str], None] = print,
                      world: World | None = None, variants: dict[str, ArmConfig] | None = None,
                      report_dir: str | Path | None = None) -> dict:
    """Serve the control and every variant (resuming finished ones) in run folder `out`; fit and
    write the report under `report_dir` (default `out`)."""
    world = world or build_world(cfg)
    if variants is None:
        variants = dict(cfg.sweep.variants) | trained_variants(cfg, Path(out), log, world)
    outcomes = run_arms(cfg, out, {"control": cfg.arms["control"], **variants}, workers=cfg.sweep.workers, log=log, world=world)
    out = Path(report_dir or out)
    report = exchange_report(cfg, outcomes, out)
    write_json(report, out / "report.json")
    md = render_markdown(report)
    write_text(md, out / "report.md")
    write_text(markdown_to_html(md, f"adsim exchange rates: {cfg.name}"), out / "report.html")
    return report


def trained_variants(cfg: ExperimentConfig, out: Path, log: Callable[[str], None], world: World) -> dict[str, ArmConfig]:
    """MOON encoders at the sweep's post-training lengths (trained once, cached under out/encoders)."""
    return {f"moon_post{steps}": moon_arm(cfg, world, out / "encoders", f"moon_post{steps}", log, posttrain_steps=steps)
            for steps in sorted(cfg.sweep.moon_posttrain_steps)}


def exchange_report(cfg: ExperimentConfig, outcomes: dict[str, ArmOutcome], out: Path) -> dict:
    control = outcomes["control"]
    variants = {n: o for n, o in outcomes.items() if n != "control"}
    sw = cfg.sweep
    inter = shared_intermediates(outcomes)
    points = sweep_points(control, variants, inter, sw.downstream, cfg.seed, sw.n_bootstrap)
    rates = exchange_rates(points)
    ranking = {d: rank_intermediates(rates, d) for d in sw.downstream}
    weights = bootstrap_weights(cfg.seed, len(control.sums["all/ctr"].num), N_BOOTSTRAP)
    per_variant = {}
    for name, o in variants.items():
        lifts = arm_lifts(control, o, weights, cfg.seed)
        per_variant[name] = {"encoder": o.spec["encoder"], "encoder_args": o.spec["encoder_args"],
                             "intermediate": o.intermediate, "lift": {d: lifts["lift"][d] for d in sw.downstream},
                             "slices": {s: v["ctr"] for s, v in lifts["slices"].items()}}
    plots = _plots(points, rates, ranking, sw.primary, out)
    best = ranking[sw.primary][0] if ranking[sw.primary] else None
    return {"name": cfg.name, "seed": cfg.seed, "config_hash": cfg.hash(), "n_bootstrap": sw.n_bootstrap,
            "control": {"encoder": control.spec["encoder"], "encoder_args": control.spec["encoder_args"],
                        "intermediate": control.intermediate,
                        "metrics": {d: control.sums[f"all/{d}"].value() for d in sw.downstream}},
            "variants": per_variant, "primary": sw.primary, "best": best,
            "exchange_rates": {i: {d: r.as_dict() for d, r in by_d.items()} for i, by_d in rates.items()},
            "ranking": ranking, "plots": plots}


def _plots(points, rates: dict[str, dict[str, ExchangeRate]], ranking: dict[str, list[dict]], primary: str, out: Path) -> list[str]:
    """Scatter plots for the pairs that matter: the best predictors of the primary metric, and the
    best predictor against every other downstream metric."""
    pairs = [(r["intermediate"], primary) for r in ranking[primary][:N_PLOTS_PER_DOWNSTREAM]]
    if "image_search_recall@10" in rates and ("image_search_recall@10", primary) not in pairs:
        pairs.append(("image_search_recall@10", primary))
    if ranking[primary]:
        pairs += [(ranking[primary][0]["intermediate"], d) for d in points.y if d != primary]
    files = []
    for i, d in pairs:
        r = rates[i][d]
        ok = np.isfinite(points.y_boot[d]).all(1)
        slope_b, icpt_b = ols(points.x[i], points.y_boot[d][ok])
        name = f"{i}__{d}".replace("@", "_at") + ".png"
        exchange_scatter(out / "plots" / name, points.x[i], points.y[d], points.y_ci[d], points.variants, slope_b, icpt_b,
                         r.slope, r.intercept, xlabel=f"Δ {i} over control ({unit(i)}s)", ylabel=f"{d} lift over control (%)",
                         title=f"{d}: {r.slope:+.3g} %/{unit(i)} [{r.ci_low:+.3g}, {r.ci_high:+.3g}], R² {r.r2:.2f}")
        files.append(f"plots/{name}")
    return files


def render_markdown(report: dict) -> str:
    primary, best = report["primary"], report["best"]
    ctrl = report["control"]
    lines = [f"# Exchange-rate report: {report['name']}", "",
             f"seed {report['seed']}, config {report['config_hash']}; {len(report['variants'])} embedding variants, each served "
             f"as an arm against the same control (`{ctrl['encoder']}` {ctrl['encoder_args']}) on the same traffic with common "
             f"random numbers. Slopes are % relative lift per +1 point (rates) or unit (alignment, uniformity) of an "
             f"intermediate metric; CIs from {report['n_bootstrap']} paired user-bootstrap resamples, refitting the line each time.", ""]
    if best:
        lines += ["## Finding", "", f"The intermediate metric that best predicts **{primary}** is **{best['intermediate']}**: "
                  + rate_text(best["intermediate"], primary, best) + ".", ""]
        for d, rows in report["ranking"].items():
            if d != primary and rows:
                lines.append(f"- {d}: best predictor {rows[0]['intermediate']}, " + rate_text(rows[0]["intermediate"], d, rows[0]))
        lines.append("")
    lines += [f"## Ranking of intermediate metrics for {primary}", "",
              "| rank | intermediate | slope | 95% CI | R² | Spearman ρ | LOO error (% pts) |", "| --- | --- | ---: | --- | ---: | ---: | ---: |"]
    for k, r in enumerate(report["ranking"][primary], 1):
        lines.append(f"| {k} | {r['intermediate']} | {r['slope']:+.3g} | [{r['ci_low']:+.3g}, {r['ci_high']:+.3g}] | "
                     f"{r['r2']:.2f} | {r['spearman']:.2f} | {r['loo_rmse']:.3g} |")
    lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in report["plots"]] + [""]
    shown = [i for i in ("image_search_recall@10", "text_recall@10", "multimodal_recall@10", "probe_leaf_acc")
             if i in report["exchange_rates"]]
    downs = list(report["variants"][next(iter(report["variants"]))]["lift"]) if report["variants"] else []
    lines += ["## Variants", "", "| variant | encoder | " + " | ".join(shown) + " | " + " | ".join(f"{d} lift [95% CI]" for d in downs) + " |",
              "| --- | --- |" + " ---: |" * len(shown) + " --- |" * len(downs)]
    lines.append("| control | " + f"`{ctrl['encoder']}` {ctrl['encoder_args']} | " + " | ".join(fmt(ctrl["intermediate"].get(i)) for i in shown)
                 + " | " + " | ".join(fmt(ctrl["metrics"][d]) for d in downs) + " |")
    for name, v in report["variants"].items():
        cells = [f"{fmt(l['relative'], True)} [{fmt(l['ci_low'], True)}, {fmt(l['ci_high'], True)}]" for l in v["lift"].values()]
        lines.append(f"| {name} | `{v['encoder']}` {v['encoder_args']} | " + " | ".join(fmt(v["intermediate"].get(i)) for i in shown)
                     + " | " + " | ".join(cells) + " |")
    lines += ["", "## All exchange rates (slope [95% CI], R²)", "",
              "| intermediate | " + " | ".join(downs) + " |", "| --- |" + " --- |" * len(downs)]
    for i, by_d in report["exchange_rates"].items():
        lines.append(f"| {i} | " + " | ".join(f"{r['slope']:+.3g} [{r['ci_low']:+.3g}, {r['ci_high']:+.3g}], {r['r2']:.2f}"
                                              for r in by_d.values()) + " |")
    if report["variants"]:
        slices = list(next(iter(report["variants"].values()))["slices"])
        lines += ["", "## CTR lift by slice", "", "Query modality, query category and item age (impressions of items listed "
                  "in the last 7 days vs established ones).", "",
                  "| variant | " + " | ".join(slices) + " |", "| --- |" + " ---: |" * len(slices)]
        for name, v in report["variants"].items():
            lines.append(f"| {name} | " + " | ".join(fmt(v["slices"][s]["relative"], True) for s in slices) + " |")
    lines += ["", "## How to read this", "",
              "- A slope is a rate of exchange between an offline metric and an online one, measured across these variants; "
              "it holds near the control and for variants like these, not for arbitrary changes.",
              "- The leave-one-variant-out error says how well a metric predicts a variant it has not seen: the ranking's "
              "first metric is the one to optimise for this downstream goal.",
              "- CIs cover traffic noise (users resampled, lines refitted); the noise of the intermediate metric itself is not included.", ""]
    return "\n".join(lines)
