"""MOON2.0's image-text co-augmentation, textual side: titles that miss an attribute their image
shows are enriched with it before the encoder trains.

MOON2.0 asks a multimodal LLM what the image shows. Here an attribute head (a small MLP over the
item's downsampled pixels, trained with torch) learns each attribute from the items whose titles
state it (the title's own words are the only labels: the listing's declared fields are not read),
then predicts it for the titles that do not; where its confidence reaches the threshold, the
attribute's title word is appended. Titles that state the attribute are left as they are. The
head's accuracy on held-out stated titles is reported, so a user sees how far to trust it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from adsim.core.taxonomy import COLOURS, COLOUR_WORDS, PATTERN_WORDS, PATTERNS
from adsim.core.torch_rng import TorchStream
from adsim.core.rng import generator

ATTRIBUTES = {"colour": (COLOURS, COLOUR_WORDS), "pattern": (PATTERNS, PATTERN_WORDS)}
POOL = 32          # the head reads images resized to POOL x POOL
HEAD_STEPS = 250   # Adam steps of the head, HEAD_BATCH images each
HEAD_BATCH = 128
HELD_OUT = 0.2     # share of stated titles held out to measure the head


def stated(titles: np.ndarray, words) -> np.ndarray:
    """(n,) the attribute value a title states by one of its title forms (-1: none); where several
    match, the longest form wins (so "dark red" is not read as "red")."""
    padded = np.char.add(np.char.add(" ", np.asarray(titles, dtype=str)), " ")
    best = np.full(len(titles), -1)
    best_len = np.zeros(len(titles), int)
    for value, w in enumerate(words):
        for form in set(w.shared + w.title_only):
            hit = np.char.find(padded, f" {form} ") >= 0
            better = hit & (len(form) > best_len)
            best[better], best_len[better] = value, len(form)
    return best


def pixels(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, S, S, 3) -> float (N, 3 * POOL * POOL), resized by average pooling, in [0, 1]."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255.0)
    return nn.functional.adaptive_avg_pool2d(x, POOL).flatten(1)


class AttributeHead(nn.Module):
    """P(attribute value | image): a small CNN (two convolutions, then pooled features) over the
    image at POOL x POOL, enough to see colour and fine patterns alike."""

    def __init__(self, n_values: int, width: int = 16):
        super().__init__()
        self.net = nn.Sequential(
            nn.Unflatten(1, (3, POOL, POOL)), nn.Conv2d(3, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(),
            nn.Linear(32 * width, n_values))

    def fit(self, x: torch.Tensor, y: torch.Tensor, seed: int) -> "AttributeHead":
        opt = torch.optim.Adam(self.parameters(), lr=3e-3, weight_decay=1e-4)
        rng = generator(seed, "attribute-head-batches")
        for _ in range(HEAD_STEPS):
            idx = torch.from_numpy(rng.integers(0, len(x), min(HEAD_BATCH, len(x))))
            loss = nn.functional.cross_entropy(self.net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        return self

    @torch.no_grad()
    def proba(self, x: torch.Tensor) -> np.ndarray:
        return torch.softmax(self.net(x), -1).numpy()


@dataclass(frozen=True)
class Enrichment:
    """What co-augmentation did, per attribute."""

    stated: dict[str, int]         # titles that state it
    enriched: dict[str, int]       # titles it was added to
    head_accuracy: dict[str, float]  # on held-out titles that state it


def enrich_titles(titles: np.ndarray, images: np.ndarray, threshold: float, seed: int) -> tuple[np.ndarray, Enrichment]:
    """Titles with each attribute their image shows (per the head, at `threshold` confidence) added
    where they miss it; the rest unchanged."""
    out = np.asarray(titles, dtype=object).copy()
    x = pixels(images)
    report = {"stated": {}, "enriched": {}, "head_accuracy": {}}
    for name, (values, words) in ATTRIBUTES.items():
        label = stated(titles, words)
        known = np.flatnonzero(label >= 0)
        order = generator(seed, "co-augment", name).permutation(known)
        test, train = order[:int(len(order) * HELD_OUT)], order[int(len(order) * HELD_OUT):]
        with TorchStream(seed):
            head = AttributeHead(len(values)).fit(x[train], torch.from_numpy(label[train]), seed)
        report["stated"][name] = int(len(known))
        report["head_accuracy"][name] = float((head.proba(x[test]).argmax(1) == label[test]).mean()) if len(test) else float("nan")
        missing = np.flatnonzero(label < 0)
        p = head.proba(x[missing]) if len(missing) else np.zeros((0, len(values)), np.float32)
        keep = p.max(1, initial=0.0) >= threshold
        word = np.array([w.shared[0] for w in words], dtype=object)
        out[missing[keep]] = out[missing[keep]] + " " + word[p[keep].argmax(1)]
        report["enriched"][name] = int(keep.sum())
    return out, Enrichment(**report)


def enriched_view(view, threshold: float, seed: int):
    """`view` whose listed items' titles are co-augmented (for training; serving reads the listings)."""
    listed = np.flatnonzero(view.items.listed_day <= 0)
    images = view.camera.item_images(listed, 0)
    titles, report = enrich_titles(view.items.title[listed], images, threshold, seed)
    full = view.items.title.copy()
    full[listed] = titles
    return dataclasses.replace(view, items=dataclasses.replace(view.items, title=full)), report
