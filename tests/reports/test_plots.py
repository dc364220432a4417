"""Plots: point labels that do not collide, and the figures written as PNG files."""

import numpy as np

from adsim.reports.render.plots import annotate_apart, exchange_scatter


def _boxes(texts, renderer):
    from matplotlib.text import Text
    for t in texts:
        t.update_positions(renderer)
    return [Text.get_window_extent(t, renderer) for t in texts]  # the words, not a leader line


def test_labels_of_a_tight_cluster_do_not_overlap_each_other_or_the_points():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(0.5, 0.02, 8), [0.1, 0.9]]
    y = np.r_[rng.normal(0.5, 0.02, 8), [0.1, 0.9]]
    ax.plot(x, y, "o")
    ax.set(xlim=(0, 1), ylim=(0, 1))
    texts = annotate_apart(ax, x, y, [f"variant_{i}" for i in range(len(x))])
    renderer = fig.canvas.get_renderer()
    boxes = _boxes(texts, renderer)
    points = ax.transData.transform(np.column_stack([x, y]))
    overlaps = [(i, j) for i in range(len(boxes)) for j in range(i) if boxes[i].overlaps(boxes[j])]
    covered = [i for i, b in enumerate(boxes) if b.count_contains(points)]
    plt.close(fig)
    assert len(texts) == 10 and not overlaps and not covered


def test_same_place_labels_collide_without_the_placement():
    """The check above can fail: labels at one fixed offset, as before, overlap on this cluster."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
    rng = np.random.default_rng(0)
    x, y = rng.normal(0.5, 0.02, 8), rng.normal(0.5, 0.02, 8)
    ax.set(xlim=(0, 1), ylim=(0, 1))
    texts = [ax.annotate(f"variant_{i}", (a, b), textcoords="offset points", xytext=(5, 4), fontsize=7)
             for i, (a, b) in enumerate(zip(x, y))]
    fig.canvas.draw()
    boxes = _boxes(texts, fig.canvas.get_renderer())
    plt.close(fig)
    assert any(boxes[i].overlaps(boxes[j]) for i in range(len(boxes)) for j in range(i))


def test_exchange_scatter_writes_a_png(tmp_path):
    from PIL import Image
    x = np.array([0.01, 0.02, 0.021, 0.03])
    y = 2 * x
    grid = np.linspace(0, 0.03, 5)
    path = exchange_scatter(tmp_path / "p.png", x, y, np.stack([y - 0.01, y + 0.01]), ["a", "b", "c", "d"], grid, 2 * grid,
                            (grid, 3 * grid), (grid - 0.01, 3 * grid + 0.01), "x", "y", "t")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size[0] > 400
