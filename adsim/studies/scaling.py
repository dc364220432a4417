"""`adsim scaling`: how intermediate and downstream metrics scale along one axis.

Axes (MOON's scaling studies): the treatment encoder's post-training tokens or negatives per query
(one MOON encoder trained per value, cached under DIR/encoders/), or the number of behaviour items
the treatment's ranker reads. Every value is an arm served against the control on the same
traffic (adsim.runs.runner: parallel, resumable); each metric gets a power law metric = a·x^b + c with
its R², plotted on a log x axis.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

from adsim.core.config import ArmConfig, ExperimentConfig
from adsim.core.vocab import HEADLINE_DOWNSTREAM, HEADLINE_INTERMEDIATES
from adsim.studies.ab import write_report
from adsim.runs.encoder_cache import moon_arm
from adsim.runs.runner import run_arms
from adsim.reports.render.plots import scaling_curve
from adsim.reports.scaling_report import PowerLaw, ScalingPoint, ScalingReport, scaling_markdown
from adsim.world.build import World, build_world

ENCODER_METRICS = HEADLINE_INTERMEDIATES
DOWNSTREAM_METRICS = HEADLINE_DOWNSTREAM + ("ranker_auc",)
AXIS_LABEL = {"train_tokens": "post-training tokens (steps × batch × sequence length)",
              "negatives": "negatives per query in post-training", "seq_len": "behaviour items read by the ranker"}


def fit_power_law(x: np.ndarray, y: np.ndarray) -> PowerLaw:
    """Least-squares a·x^b + c, with x rescaled by its smallest value for conditioning."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    x0 = x.min()
    f = lambda t, a, b, c: a * np.power(t, b) + c
    span = y[np.argmax(x)] - y[np.argmin(x)] or 1e-3
    best = None
    for b0 in (-1.0, -0.3, 0.3, 1.0):  # saturating (b < 0) and growing (b > 0) starts; keep the best
        try:
            with warnings.catch_warnings():  # with 3-4 points the parameter covariance is often undefined
                warnings.simplefilter("ignore", OptimizeWarning)
                params, _ = curve_fit(f, x / x0, y, p0=(span if b0 > 0 else -span, b0, y[np.argmax(x)] if b0 < 0 else y[np.argmin(x)] - span),
                                      bounds=([-np.inf, -3.0, -np.inf], [np.inf, 3.0, np.inf]), maxfev=20000)
        except (RuntimeError, ValueError):
            continue
        sse = ((f(x / x0, *params) - y) ** 2).sum()
        if best is None or sse < best[0]:
            best = (sse, params)
    if best is None:
        return PowerLaw(np.nan, np.nan, np.nan, np.nan, False)
    a, b, c = best[1]
    pred = f(x / x0, a, b, c)
    ss = ((y - y.mean()) ** 2).sum()
    r2 = 1 - ((y - pred) ** 2).sum() / ss if ss > 0 else float("nan")
    return PowerLaw(a=float(a / x0 ** b), b=float(b), c=float(c), r2=float(r2), ok=True)  # a in the units of x


def sequence_length(cfg: ExperimentConfig) -> int:
    """Tokens in one post-training item sequence: the image's tokens and the title's."""
    from encoders.nets.vision import n_image_tokens
    e = cfg.encoder_train
    return n_image_tokens(e.vision, cfg.world.image_size, e.patch_size, e.vision_layers) + e.max_title_tokens


def scaling_variants(cfg: ExperimentConfig, world: World, out: Path, log: Callable[[str], None]) -> tuple[dict[str, ArmConfig], dict[str, float]]:
    """One arm per axis value (training encoders where the axis needs them) and its x coordinate."""
    axis, treat = cfg.scaling.axis, cfg.arms.get("treatment", cfg.arms["control"])
    specs, xs = {}, {}
    for v in sorted(cfg.scaling.values):
        name = f"{axis}={v}"
        if axis == "seq_len":
            ranker = treat.overrides.get("ranker", {}) | {"seq_len": v}
            specs[name] = dataclasses.replace(treat, overrides=treat.overrides | {"ranker": ranker})
            xs[name] = float(v)
            continue
        specs[name] = moon_arm(cfg, world, out / "encoders", name, log,
                               **{"posttrain_steps" if axis == "train_tokens" else "n_negatives": v})
        xs[name] = float(v * cfg.encoder_train.batch_size * sequence_length(cfg)) if axis == "train_tokens" else float(v)
    return specs, xs


def _points(specs: dict, xs: dict[str, float], outcomes: dict) -> dict[str, ScalingPoint]:
    points = {}
    for name in specs:
        o = outcomes[name]
        values = {m: o.intermediate.get(m, np.nan) for m in ENCODER_METRICS}
        values |= {m: o.sums.overall[m].value() for m in HEADLINE_DOWNSTREAM}
        values["ranker_auc"] = o.model_metrics["ranker_auc"]
        points[name] = ScalingPoint(x=xs[name], metrics=values)
    return points


def _fit_and_plot(cfg: ExperimentConfig, points: dict[str, ScalingPoint], metrics: tuple[str, ...],
                  out: Path) -> tuple[dict[str, PowerLaw], list[str]]:
    x = np.array([p.x for p in points.values()])
    fits, plots = {}, []
    for m in metrics:
        y = np.array([p.metrics[m] for p in points.values()])
        fit = fit_power_law(x, y)
        fits[m] = fit
        grid = np.geomspace(x.min(), x.max(), 100)
        file = f"plots/{cfg.scaling.axis}__{m.replace('@', '_at')}.png"
        scaling_curve(out / file, x, y, grid if fit.ok else None, fit(grid) if fit.ok else None, AXIS_LABEL[cfg.scaling.axis],
                      m, fit.text(m))
        plots.append(file)
    return fits, plots


def run_scaling(cfg: ExperimentConfig, out: str | Path, log: Callable[[str], None] = print,
                world: World | None = None) -> ScalingReport:
    """One arm per value of `cfg.scaling.axis` against the control; power-law fits and plots."""
    out = Path(out)
    world = world or build_world(cfg)
    specs, xs = scaling_variants(cfg, world, out, log)
    outcomes = run_arms(cfg, out, {"control": cfg.arms["control"], **specs}, workers=cfg.sweep.workers, log=log, world=world)
    metrics = (ENCODER_METRICS if cfg.scaling.axis != "seq_len" else ()) + DOWNSTREAM_METRICS
    points = _points(specs, xs, outcomes)
    fits, plots = _fit_and_plot(cfg, points, metrics, out)
    control = outcomes["control"]
    report = ScalingReport(name=cfg.name, seed=cfg.seed, config_hash=cfg.hash(), axis=cfg.scaling.axis,
                           x_label=AXIS_LABEL[cfg.scaling.axis], points=points, fits=fits, plots=plots,
                           control={m: control.sums.overall[m].value() for m in HEADLINE_DOWNSTREAM})
    write_report(scaling_markdown(report), report.to_json(), out, f"adsim scaling: {cfg.scaling.axis}")
    return report
