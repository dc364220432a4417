"""Rendered images show the attributes, deterministically; photos resemble their target."""

import numpy as np

from adsim.core.taxonomy import COLOURS, LEAVES, PATTERNS, STYLES
from adsim.world.render import item_images, query_photos


def ridge_accuracy(x: np.ndarray, y: np.ndarray, n_classes: int, n_train: int, lam: float = 10.0) -> float:
    """Accuracy of a one-vs-all ridge classifier on standardised features (held-out rows)."""
    x = x.astype(np.float64)
    mu, sd = x[:n_train].mean(0), x[:n_train].std(0) + 1e-6
    x = np.hstack([(x - mu) / sd, np.ones((len(x), 1))])
    onehot = np.eye(n_classes)[y[:n_train]]
    a = x[:n_train]
    w = np.linalg.solve(a.T @ a + lam * np.eye(a.shape[1]), a.T @ onehot)
    return float((np.argmax(x[n_train:] @ w, 1) == y[n_train:]).mean())


def pixel_features(images: np.ndarray) -> np.ndarray:
    """Half-resolution pixels plus local gradient energy (texture) in 4x4 blocks."""
    n, s = images.shape[:2]
    img = images.astype(np.float32) / 255
    half = img.reshape(n, s // 2, 2, s // 2, 2, 3).mean((2, 4)).reshape(n, -1)
    g = img.mean(-1)

    def energy(d, k=4):
        h, w = d.shape[1] // k * k, d.shape[2] // k * k
        return np.abs(d[:, :h, :w]).reshape(n, h // k, k, w // k, k).mean((2, 4)).reshape(n, -1)

    grads = (g[:, :, 1:] - g[:, :, :-1], g[:, 1:] - g[:, :-1], g[:, 1:, 1:] - g[:, :-1, :-1], g[:, 1:, :-1] - g[:, :-1, 1:])
    return np.hstack([half] + [energy(d) for d in grads])


def test_attributes_are_recoverable_from_pixels(smoke_world):
    items = smoke_world.items
    ids = np.arange(len(items.item_id))
    x = pixel_features(item_images(items, ids, 0, smoke_world.image_size, smoke_world.seed))
    n_train = 1000
    # (attribute, classes, required multiple of chance); measured on smoke: leaf 0.9, style 0.9,
    # colour 0.4, pattern 0.6, brand 0.4 (chance 0.004).
    for name, n_classes, multiple in (("leaf", len(LEAVES), 10), ("colour", len(COLOURS), 3),
                                      ("pattern", len(PATTERNS), 3), ("style", len(STYLES), 3),
                                      ("brand", len(smoke_world.brands.brand_id), 20)):
        acc = ridge_accuracy(x, getattr(items, name), n_classes, n_train)
        assert acc > multiple / n_classes, (name, acc)


def test_rendering_is_deterministic_and_views_differ(smoke_world):
    items, seed = smoke_world.items, smoke_world.seed
    ids = np.flatnonzero(items.n_views >= 2)[:50]
    a = item_images(items, ids, 0, 32, seed)
    assert np.array_equal(a, item_images(items, ids, 0, 32, seed))
    assert np.array_equal(a[:10], item_images(items, ids[:10], 0, 32, seed))  # batch-independent
    b = item_images(items, ids, 1, 32, seed)
    assert (np.abs(a.astype(int) - b.astype(int)).mean(axis=(1, 2, 3)) > 5).mean() > 0.9
    assert item_images(items, ids[:3], 0, 64, seed).shape == (3, 64, 64, 3)


def colour_histogram(images: np.ndarray, bins: int = 4) -> np.ndarray:
    q = (images // (256 // bins)).astype(np.int64)
    code = (q[..., 0] * bins + q[..., 1]) * bins + q[..., 2]
    hist = np.stack([np.bincount(c.ravel(), minlength=bins ** 3) for c in code]).astype(np.float64)
    return hist / np.linalg.norm(hist, axis=1, keepdims=True)


def test_image_queries_resemble_their_target(smoke_world):
    w = smoke_world
    rows = np.flatnonzero(w.requests.modality == 1)[:300]
    target = w.requests.intent.target[rows]
    photos = query_photos(w.items, target, w.requests.request_id[rows], 32, w.seed)
    other = np.roll(target, 7)
    keep = w.items.colour[other] != w.items.colour[target]
    f_photo = colour_histogram(photos)
    f_target = colour_histogram(item_images(w.items, target, 0, 32, w.seed))
    f_other = colour_histogram(item_images(w.items, other, 0, 32, w.seed))
    sim_target = (f_photo * f_target).sum(1)
    sim_other = (f_photo * f_other).sum(1)
    assert (sim_target > sim_other)[keep].mean() > 0.7
