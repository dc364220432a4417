"""Which metric to watch: a composite proxy over intermediate metrics against the best single one,
and how many variants a study needs (computed by adsim.stats.proxy)."""

from __future__ import annotations

from adsim.stats.estimates import CompositeProxy, VariantsNeeded


def proxy_markdown(primary: str, best: str, c: CompositeProxy | None, needed: list[VariantsNeeded]) -> list[str]:
    """The composite proxy against the best single metric, and the variants a study needs."""
    lines = []
    if c:
        top = sorted(zip(c.metrics, c.weights), key=lambda mw: -abs(mw[1]))[:6]
        lines += [f"## Composite proxy for {primary}", "",
                  f"Ridge through the control over {len(c.metrics)} reliable intermediate metrics (penalty {c.penalty:g}, "
                  f"by leave-one-out). Held-out error, each variant predicted by a proxy chosen without it: composite "
                  f"**{c.loo_rmse:.3g} % points**, best single metric {c.single_loo_rmse:.3g} % points (picked: "
                  + ", ".join(f"{m} {n}x" for m, n in c.single_picks.items()) + ").", "",
                  "Largest weights (log-% per point or unit): " + ", ".join(f"{m} {w:+.3g}" for m, w in top) + ".", ""]
    if needed:
        lines += [f"## How many variants a study needs ({best})", "",
                  "The slope's 95 % CI half-width when only some of the variants are kept (random subsets):", "",
                  "| variants | CI half-width | relative to the slope |", "| ---: | ---: | ---: |"]
        lines += [f"| {v.n_variants} | {v.half_width:.3g} | {v.relative:.0%} |" for v in needed] + [""]
    return lines
