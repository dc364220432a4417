"""`adsim exchange-rate`: serve a sweep of embedding variants against the control and write the
exchange-rate analysis (adsim.reports.exchange_report): report.json, report.md, report.html and
plots/*.png."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np

from adsim.core.config import ArmConfig, ExperimentConfig
from adsim.studies.arguments import check_sweep
from adsim.core.vocab import IMAGE_SEARCH_RECALL
from adsim.studies.ab import N_BOOTSTRAP, arm_lifts, write_report
from adsim.runs.arm import ArmOutcome
from adsim.runs.encoder_cache import moon_arm, snapshot_arms
from adsim.studies.exchange import (
    SweepPoints,
    averaged_points,
    exchange_rates,
    rank_intermediates,
    shared_intermediates,
    sweep_points,
)
from adsim.stats.proxy import composite_proxy, variants_needed
from adsim.stats.rate_fit import MIN_RELIABILITY, held_out_prediction, pct_lift, prediction_interval, weak_fit_reason
from adsim.studies.component_lifts import component_lifts
from adsim.studies.replicates import replicate_config
from adsim.runs.runner import run_arms
from adsim.stats.bootstrap import Bootstrap
from adsim.reports.baseline_report import BaselineComparison, LinePlacement
from adsim.reports.exchange_report import (
    ControlSummary,
    ExchangeReport,
    RankedIntermediate,
    VariantSummary,
    exchange_markdown,
)
from adsim.stats.estimates import ExchangeRate, unit
from adsim.reports.render.plots import exchange_scatter
from adsim.world.build import World, build_world

N_PLOTS_PER_DOWNSTREAM = 3


def run_exchange_rate(cfg: ExperimentConfig, out: str | Path, log: Callable[[str], None] = print,
                      world: World | None = None, variants: dict[str, ArmConfig] | None = None,
                      report_dir: str | Path | None = None, replicates: int = 1, retrain: bool = False,
                      encoders: str | Path | None = None) -> ExchangeReport:
    """Serve the control and every variant (resuming finished ones) in run folder `out` (with
    `replicates` > 1, in `out/rep<r>` for each replicate: encoders trained once, or with `retrain`
    trained again in each replicate with training seed + r); fit and write the report under
    `report_dir` (default `out`). Trained encoders are cached under `encoders` (default out/encoders)."""
    check_sweep(replicates, retrain, own_variants=variants is None)
    world = world or build_world(cfg)
    root = Path(encoders) if encoders else Path(out) / "encoders"
    if variants is None and not retrain:
        variants = sweep_variants(cfg, root, log, world)
    if replicates == 1:
        runs = [run_arms(cfg, out, {"control": cfg.arms["control"], **variants}, workers=cfg.sweep.workers, log=log, world=world)]
    else:
        runs = []
        for r, c in enumerate(replicate_config(cfg, cfg.replicate + r) for r in range(replicates)):
            arms = sweep_variants(training_seed(cfg, r), root, log, world) if retrain else variants
            runs.append(run_arms(c, Path(out) / f"rep{c.replicate:02d}", {"control": cfg.arms["control"], **arms},
                                 workers=cfg.sweep.workers, log=log, world=build_world(c)))
            log(f"sweep replicate {c.replicate}: done")
    folder = Path(report_dir or out)
    report = exchange_report(cfg, runs, folder, retrained=retrain)
    write_report(exchange_markdown(report), report.to_json(), folder, f"adsim exchange rates: {cfg.name}")
    return report


def training_seed(cfg: ExperimentConfig, r: int) -> ExperimentConfig:
    """`cfg` with its encoders' training seed moved on by `r` (what `encoder compare --seeds` trains as seed r)."""
    return dataclasses.replace(cfg, encoder_train=dataclasses.replace(cfg.encoder_train, seed=cfg.encoder_train.seed + r))


def sweep_variants(cfg: ExperimentConfig, root: Path, log: Callable[[str], None], world: World) -> dict[str, ArmConfig]:
    """Every variant of the sweep: those listed, the families' members and the MOON encoders it
    trains (cached under `root`)."""
    return dict(cfg.sweep.variants) | cfg.sweep.family_variants(draw_seed(cfg)) | trained_variants(cfg, root, log, world)


def draw_seed(cfg: ExperimentConfig) -> tuple[int, int]:
    """What drawn families' members are drawn under: the seed and the replicate (so a replicate of a
    coverage study serves new members; replicates of one sweep share the base config's)."""
    return cfg.seed, cfg.replicate


def trained_variants(cfg: ExperimentConfig, root: Path, log: Callable[[str], None], world: World) -> dict[str, ArmConfig]:
    """MOON encoders at the sweep's post-training lengths and the named `moon_variants` (each
    encoder_train with its changes), trained once and cached under `root`; and the members of
    the families built on one of them (`of`: Matryoshka sizes, quantisations)."""
    sw = cfg.sweep
    longest = max(sw.moon_posttrain_steps, default=None)
    arms = {f"moon_post{steps}": moon_arm(cfg, world, root, f"moon_post{steps}", log, posttrain_steps=steps,
                                          snapshot_every=sw.moon_snapshots if steps == longest else 0)
            for steps in sorted(sw.moon_posttrain_steps)}
    if sw.moon_snapshots:  # checkpoints along one training run: many variants for the cost of one
        last = Path(arms[f"moon_post{longest}"].encoder_args["path"])
        arms |= {n: a for n, a in snapshot_arms(last, f"moon_post{longest}").items() if not n.endswith(f"_step{longest}")}
    for name in cfg.sweep.moon_variants:
        arms[name] = moon_arm(cfg, world, root, name, log, **cfg.sweep.moon_variant_changes(name))
    for family, f in cfg.sweep.families.items():
        if f.of is not None:
            trained = arms[f.of]
            arms |= {n: ArmConfig(trained.encoder, a) for n, a in f.members(family, trained.encoder_args, draw_seed(cfg)).items()}
    return arms


def against_baseline(cfg: ExperimentConfig, outcomes: dict[str, ArmOutcome], points: SweepPoints,
                     ranking: dict[str, list[RankedIntermediate]]) -> dict[str, BaselineComparison]:
    """Every variant but the baseline: its downstream lifts over the baseline on the same users, and
    its primary lift against the best intermediate metric's line fitted to the other variants."""
    sw = cfg.sweep
    base = outcomes[sw.baseline]
    boot = Bootstrap(cfg.seed, base.sums.n_users, N_BOOTSTRAP)
    best = ranking[sw.primary][0].intermediate if ranking[sw.primary] else None
    rows = {}
    for name, o in outcomes.items():
        if name in ("control", sw.baseline):
            continue
        lifts = arm_lifts(base, o, boot, cfg.seed)
        rows[name] = BaselineComparison(lift={d: lifts.lift[d] for d in sw.downstream},
                                        line=line_placement(points, best, sw.primary, name, sw.estimator) if best else None)
    return rows


def line_placement(points: SweepPoints, intermediate: str, downstream: str, variant: str,
                   estimator: str) -> LinePlacement | None:
    """`variant`'s lift against the line fitted without it (None when the rest cannot fit one)."""
    v = points.variants.index(variant)
    rest = np.arange(len(points.variants)) != v
    x, y = points.x[intermediate], points.y[downstream]
    if rest.sum() < 2 or not np.any(x[rest]):
        return None
    lift, lo, hi = held_out_prediction(np.asarray(x, np.float64), np.asarray(y, np.float64),
                                       np.asarray(points.y_boot[downstream], np.float64), points.x_boot.get(intermediate), v,
                                       estimator=estimator)
    return LinePlacement(intermediate=intermediate, change=float(x[v]), observed=float(y[v]), predicted=lift, pi_low=lo, pi_high=hi)


def variant_summaries(cfg: ExperimentConfig, control: ArmOutcome, variants: dict[str, ArmOutcome]) -> dict[str, VariantSummary]:
    """Each variant's downstream lifts and expected-CTR lift per slice, over the control."""
    boot = Bootstrap(cfg.seed, control.sums.n_users, N_BOOTSTRAP)
    out = {}
    for name, o in variants.items():
        lifts = arm_lifts(control, o, boot, cfg.seed)
        out[name] = VariantSummary(encoder=o.spec["encoder"], encoder_args=o.spec["encoder_args"], intermediate=o.intermediate,
                                   lift={d: lifts.lift[d] for d in cfg.sweep.downstream},
                                   slices={s: v["expected_ctr"] for s, v in lifts.slices.items()})
    return out


def exchange_report(cfg: ExperimentConfig, runs: list[dict[str, ArmOutcome]], out: Path,
                    retrained: bool = False) -> ExchangeReport:
    """Fit every (intermediate, downstream) pair across the variants (their points averaged over
    replicate runs when there are several), rank, plot and summarise (summaries of the first run)."""
    sw = cfg.sweep
    per_run = []
    for outcomes in runs:
        variants = {n: o for n, o in outcomes.items() if n != "control"}
        per_run.append(sweep_points(outcomes["control"], variants, shared_intermediates(outcomes), sw.downstream,
                                    cfg.seed, sw.n_bootstrap).with_families(sw.family_of))
    points = averaged_points(per_run) if len(per_run) > 1 else per_run[0]
    rates = exchange_rates(points, per_run, sw.estimator)
    control = runs[0]["control"]
    variants = {n: o for n, o in runs[0].items() if n != "control"}
    ranking = {d: rank_intermediates(rates, d, cfg.seed) for d in sw.downstream}
    ctrl = ControlSummary(encoder=control.spec["encoder"], encoder_args=control.spec["encoder_args"],
                          intermediate=control.intermediate,
                          metrics={d: control.sums.overall[d].value() for d in sw.downstream})
    weak = {d: reason for d, rows in ranking.items() if rows and (reason := weak_fit_reason(rates[rows[0].intermediate][d]))}
    best = ranking[sw.primary][0].intermediate if ranking[sw.primary] else None
    reliable = [i for i in rates if rates[i][sw.primary].reliability >= MIN_RELIABILITY]
    return ExchangeReport(name=cfg.name, seed=cfg.seed, config_hash=cfg.hash(), n_bootstrap=sw.n_bootstrap, control=ctrl,
                          variants=variant_summaries(cfg, control, variants), primary=sw.primary, exchange_rates=rates,
                          ranking=ranking, plots=_plots(points, rates, ranking, sw.primary, out),
                          weak_fits=weak, baseline=sw.baseline,
                          composite=composite_proxy(points.x, points.y[sw.primary], reliable),
                          variants_needed=variants_needed(points.x[best], points.y[sw.primary], points.y_boot[sw.primary],
                                                          points.x_boot.get(best), sw.estimator, cfg.seed) if best else [],
                          against_baseline=against_baseline(cfg, runs[0], points, ranking) if sw.baseline else {},
                          components=component_lifts(cfg, runs), components_retrained=retrained)


def _plot_pairs(points: SweepPoints, rates: dict, ranking: dict[str, list[RankedIntermediate]], primary: str) -> list[tuple[str, str]]:
    """The pairs that matter: the best predictors of the primary metric (and image-search recall),
    and the best predictor against every other downstream metric."""
    pairs = [(r.intermediate, primary) for r in ranking[primary][:N_PLOTS_PER_DOWNSTREAM]]
    if IMAGE_SEARCH_RECALL in rates and (IMAGE_SEARCH_RECALL, primary) not in pairs:
        pairs.append((IMAGE_SEARCH_RECALL, primary))
    if ranking[primary]:
        pairs += [(ranking[primary][0].intermediate, d) for d in points.y if d != primary]
    return pairs


def _plots(points: SweepPoints, rates: dict[str, dict[str, ExchangeRate]], ranking: dict[str, list[RankedIntermediate]],
           primary: str, out: Path) -> list[str]:
    files = []
    for i, d in _plot_pairs(points, rates, ranking, primary):
        r = rates[i][d]
        grid = np.linspace(min(points.x[i].min(), 0.0), max(points.x[i].max(), 0.0), 101)
        half = (r.ci_high - r.slope) * grid
        pi = np.array([prediction_interval(r, g) for g in grid])
        name = f"{i}__{d}".replace("@", "_at") + ".png"
        band = (pct_lift(r.slope * grid - np.abs(half)), pct_lift(r.slope * grid + np.abs(half)))
        exchange_scatter(out / "plots" / name, points.x[i], points.y[d], points.y_ci[d], points.variants, grid,
                         pct_lift(r.slope * grid), band, (pi[:, 1], pi[:, 2]),
                         xlabel=f"Δ {i} over control ({unit(i)}s)", ylabel=f"{d} lift over control (%)",
                         title=f"{d}: {r.slope:+.3g} log-%/{unit(i)} [{r.ci_low:+.3g}, {r.ci_high:+.3g}], R² {r.r2:.2f}")
        files.append(f"plots/{name}")
    return files
