"""`adsim scaling`: how intermediate and downstream metrics scale along one axis.

Axes (MOON's scaling studies): the treatment encoder's post-training tokens or negatives per query
(one MOON encoder trained per value, cached under DIR/encoders/), or the number of behaviour items
the treatment's ranker reads. Every value is an arm served against the control on the same
traffic (adsim.sweep: parallel, resumable); each metric gets a power law metric = a·x^b + c with
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
from adsim.experiments.encoder_cache import moon_arm
from adsim.reports.html_page import markdown_to_html
from adsim.core.files import write_json, write_text
from adsim.reports.plots import scaling_curve
from adsim.experiments.runner import run_arms
from adsim.world.build import World, build_world

ENCODER_METRICS = ("image_search_recall@10", "text_recall@10", "multimodal_recall@10")
DOWNSTREAM_METRICS = ("ctr", "rpm", "clicks_per_request", "ranker_auc")
AXIS_LABEL = {"train_tokens": "post-training tokens (steps × batch × sequence length)",
              "negatives": "negatives per query in post-training", "seq_len": "behaviour items read by the ranker"}


@dataclasses.dataclass(frozen=True)
class PowerLaw:
    """metric ≈ a·x^b + c; `ok` False when the fit did not converge."""

    a: float
    b: float
    c: float
    r2: float
    ok: bool

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.a * np.power(x, self.b) + self.c


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
    from encoders.vision import n_image_tokens
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


def run_scaling(cfg: ExperimentConfig, out: str | Path, log: Callable[[str], None] = print, world: World | None = None) -> dict:
    out = Path(out)
    world = world or build_world(cfg)
    specs, xs = scaling_variants(cfg, world, out, log)
    outcomes = run_arms(cfg, out, {"control": cfg.arms["control"], **specs}, workers=cfg.sweep.workers, log=log, world=world)
    metrics = (ENCODER_METRICS if cfg.scaling.axis != "seq_len" else ()) + DOWNSTREAM_METRICS
    points = {}
    for name in specs:
        o = outcomes[name]
        values = {m: o.intermediate.get(m, np.nan) for m in ENCODER_METRICS}
        values |= {m: o.sums[f"all/{m}"].value() for m in ("ctr", "rpm", "clicks_per_request")}
        values["ranker_auc"] = o.model_metrics["ranker_auc"]
        points[name] = {"x": xs[name], "metrics": values}
    x = np.array([points[n]["x"] for n in specs])
    fits, plots = {}, []
    for m in metrics:
        y = np.array([points[n]["metrics"][m] for n in specs])
        fit = fit_power_law(x, y)
        fits[m] = dataclasses.asdict(fit)
        grid = np.geomspace(x.min(), x.max(), 100)
        file = f"plots/{cfg.scaling.axis}__{m.replace('@', '_at')}.png"
        scaling_curve(out / file, x, y, grid if fit.ok else None, fit(grid) if fit.ok else None, AXIS_LABEL[cfg.scaling.axis], m,
                      f"{m} = {fit.a:.3g}·x^{fit.b:.3g} + {fit.c:.3g}  (R² {fit.r2:.2f})" if fit.ok else f"{m}: power law did not converge")
        plots.append(file)
    control = outcomes["control"]
    report = {"name": cfg.name, "seed": cfg.seed, "config_hash": cfg.hash(), "axis": cfg.scaling.axis,
              "x_label": AXIS_LABEL[cfg.scaling.axis], "points": points, "fits": fits, "plots": plots,
              "control": {m: control.sums[f"all/{m}"].value() for m in ("ctr", "rpm", "clicks_per_request")}}
    write_json(report, out / "report.json")
    md = render_markdown(report)
    write_text(md, out / "report.md")
    write_text(markdown_to_html(md, f"adsim scaling: {cfg.scaling.axis}"), out / "report.html")
    return report


def render_markdown(report: dict) -> str:
    names = list(report["points"])
    metrics = list(report["fits"])
    lines = [f"# Scaling study: {report['axis']} ({report['name']})", "",
             f"seed {report['seed']}, config {report['config_hash']}. x = {report['x_label']}. Each value is an arm served against "
             f"the control on the same traffic; fits are metric = a·x^b + c by least squares.", "",
             "| arm | x | " + " | ".join(metrics) + " |", "| --- | ---: |" + " ---: |" * len(metrics)]
    for n in names:
        p = report["points"][n]
        lines.append(f"| {n} | {p['x']:.4g} | " + " | ".join(f"{p['metrics'][m]:.4g}" for m in metrics) + " |")
    lines += ["", "| metric | a | b | c | R² |", "| --- | ---: | ---: | ---: | ---: |"]
    for m, f in report["fits"].items():
        lines.append(f"| {m} | {f['a']:.4g} | {f['b']:.3g} | {f['c']:.4g} | {f['r2']:.3f} |" if f["ok"] else f"| {m} | – | – | – | did not converge |")
    lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in report["plots"]] + [""]
    return "\n".join(lines)
