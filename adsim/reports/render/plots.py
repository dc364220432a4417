"""PNG figures for reports (matplotlib, headless), written atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from adsim.core.files import atomic_path


def _figure():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt, *plt.subplots(figsize=(6.4, 4.4), dpi=110)


def _save(plt, fig, path: Path) -> Path:
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path


def exchange_scatter(path: Path, x: np.ndarray, y: np.ndarray, y_ci: np.ndarray, labels: list[str], grid: np.ndarray,
                     line: np.ndarray, ci_band: tuple[np.ndarray, np.ndarray], pi_band: tuple[np.ndarray, np.ndarray],
                     xlabel: str, ylabel: str, title: str) -> Path:
    """Variants as points with lift CIs, the line fitted through the control with its 95 % CI band
    and the 95 % prediction band of a new variant."""
    plt, fig, ax = _figure()
    ax.fill_between(grid, *pi_band, color="tab:orange", alpha=0.12, label="95 % prediction interval, new variant")
    ax.fill_between(grid, *ci_band, color="tab:blue", alpha=0.22, label="95 % CI of the rate")
    ax.plot(grid, line, color="tab:blue", lw=2, label="fit through the control")
    ax.errorbar(x, y, yerr=[y - y_ci[0], y_ci[1] - y], fmt="o", color="black", ecolor="0.5", capsize=3, label="variants (95 % CI)")
    ax.plot([0], [0], "s", color="tab:red", label="control")
    ax.axhline(0, color="0.7", lw=0.8)
    ax.axvline(0, color="0.7", lw=0.8)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.title.set_fontsize(9)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    annotate_apart(ax, x, y, labels)
    return _save(plt, fig, path)


# Where a label may sit around its point: (ring, dx, dy), right and above first, widening ring by ring.
_SPOTS = [(ring, dx, dy) for ring in (1, 2, 3, 4, 6)
          for dx, dy in ((1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1))]
_HA, _VA = {1: "left", 0: "center", -1: "right"}, {1: "bottom", 0: "center", -1: "top"}


def annotate_apart(ax, x: np.ndarray, y: np.ndarray, labels: list[str], fontsize: float = 7) -> list:
    """Label each point where its text overlaps no label placed before it, no point (nor the control
    at the origin), not the legend, and nothing outside the axes: the first free spot around the
    point, widening ring by ring (with a leader line past the first ring). Where no spot is free,
    the one that overlaps least. One trial text per label is moved from spot to spot and measured."""
    fig = ax.figure
    fig.canvas.draw()  # fixes the limits, so data map to pixels
    renderer = fig.canvas.get_renderer()
    points = ax.transData.transform(np.column_stack([np.r_[x, 0.0], np.r_[y, 0.0]]).astype(float))  # and the control
    legend = ax.get_legend()
    frame, texts = ax.get_window_extent(renderer), []
    placed = [legend.get_window_extent(renderer)] if legend is not None else []

    def clash(box) -> int:
        inside = frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1)
        return sum(box.overlaps(b) for b in placed) + int(box.count_contains(points) > 0) + int(not inside)

    for xi, yi, name in zip(x, y, labels):
        trial = ax.text(0, 0, name, fontsize=fontsize)
        best = None
        for ring, dx, dy in _SPOTS:
            xy = ax.transData.transform((xi, yi)) + np.array([dx, dy]) * 5 * ring * fig.dpi / 72  # points to pixels
            trial.set(position=xy, transform=None, ha=_HA[dx], va=_VA[dy])
            box = trial.get_window_extent(renderer)
            if best is None or clash(box) < best[0]:
                best = (clash(box), (ring, dx, dy), box)
                if best[0] == 0:
                    break
        trial.remove()
        ring, dx, dy = best[1]
        text = ax.annotate(name, (xi, yi), textcoords="offset points", xytext=(5 * dx * ring, 5 * dy * ring),
                           fontsize=fontsize, ha=_HA[dx], va=_VA[dy],
                           arrowprops=dict(arrowstyle="-", color="0.6", lw=0.5) if ring > 1 else None)
        text.set_in_layout(False)  # a later tight_layout must not shrink the axes around the labels
        placed.append(best[2])
        texts.append(text)
    return texts


def scaling_curve(path: Path, x: np.ndarray, y: np.ndarray, fit_x: np.ndarray | None, fit_y: np.ndarray | None,
                  xlabel: str, ylabel: str, title: str) -> Path:
    """Measured points on a log x axis with the fitted power law."""
    plt, fig, ax = _figure()
    ax.plot(x, y, "o", color="black", label="measured")
    if fit_x is not None:
        ax.plot(fit_x, fit_y, color="tab:orange", lw=2, label="a·x^b + c")
    ax.set_xscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.title.set_fontsize(9)
    ax.legend(fontsize=7)
    return _save(plt, fig, path)


def growth_plot(path: Path, series: dict[str, tuple[list[float], list[float]]], exponents: dict[str, float],
                cost: str) -> Path:
    """Log-log cost against size (as a multiple of the config's), one line per axis, with its exponent."""
    plt, fig, ax = _figure()
    for axis, (x, y) in series.items():
        ax.plot(x, y, "o-", label=f"{axis} (exponent {exponents[axis]:.2f})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set(xlabel="size / the config's size", ylabel=cost, title=f"{cost} against size (log-log; slope 1 = linear)")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=7)
    return _save(plt, fig, path)


def calibration_plot(path: Path, series: dict[str, dict]) -> Path:
    """The log beside worlds: CTR and PBM examination per slot, and requests per user (quantiles)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.6), dpi=110)
    for name, s in series.items():
        axes[0].plot(np.arange(len(s["slot_ctr"])), s["slot_ctr"], marker="o", label=name)
        axes[1].plot(np.arange(len(s["examination"])), s["examination"], marker="o", label=name)
        axes[2].plot([50, 90, 99], s["requests_per_user"], marker="o", label=name)
    for ax, title, xlabel in zip(axes, ("CTR per slot", "examination per slot (PBM, slot 0 = 1)", "requests per user"),
                                 ("slot", "slot", "percentile")):
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(xlabel)
    axes[2].set_yscale("log")
    axes[0].legend(fontsize=8)
    return _save(plt, fig, path)
