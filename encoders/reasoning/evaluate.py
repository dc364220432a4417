"""How well a reasoning encoder's generated attribute tokens read the product: per slot, against
what the listing states, against the truth where the title is silent, and from the image alone,
each beside the share the commonest value would get (`adsim encoder train` reports it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from adsim.core.rng import generator
from encoders.reasoning.head import SLOTS, reasoning_targets

N_ITEMS = 600  # items read, drawn with the seed
TRUTH = {"category": "leaf"}  # a slot's true value in the items table, where the names differ


@dataclass(frozen=True)
class SlotAccuracy:
    """Shares of items whose greedy token for one slot is right."""

    stated: float        # image + title: equals what the listing states (items that state it)
    silent: float        # image + title, the title silent on the slot: equals the truth
    silent_prior: float  # the commonest true value among those silent items
    image: float         # the image alone: equals the truth
    image_prior: float   # the commonest true value among all items read
    n_silent: int


def _share(hit: np.ndarray) -> float:
    return float(hit.mean()) if len(hit) else float("nan")


def _prior(values: np.ndarray) -> float:
    return float(np.bincount(values).max() / len(values)) if len(values) else float("nan")


@torch.no_grad()
def reasoning_accuracy(model, builder, items, seed: int, n: int = N_ITEMS) -> dict[str, SlotAccuracy]:
    """Each slot's accuracies over `n` items drawn with `seed`."""
    ids = np.sort(generator(seed, "reasoning-eval").choice(len(items.item_id), min(n, len(items.item_id)), replace=False))
    stated = reasoning_targets(items)[ids]
    was = model.training
    model.eval()
    tokens = {name: model.generate(model.prefix(**inp.kwargs())).cpu().numpy()
              for name, inp in (("item", builder.items(ids)), ("image", builder.items(ids, text=False)))}
    model.train(was)
    out = {}
    for j, slot in enumerate(SLOTS):
        truth = np.asarray(getattr(items, TRUTH.get(slot, slot))[ids], dtype=np.int64)
        says, silent = stated[:, j] >= 0, stated[:, j] < 0
        out[slot] = SlotAccuracy(stated=_share(tokens["item"][says, j] == stated[says, j]),
                                 silent=_share(tokens["item"][silent, j] == truth[silent]),
                                 silent_prior=_prior(truth[silent]),
                                 image=_share(tokens["image"][:, j] == truth), image_prior=_prior(truth),
                                 n_silent=int(silent.sum()))
    return out


def accuracy_json(acc: dict[str, SlotAccuracy]) -> dict[str, dict]:
    return {slot: asdict(a) for slot, a in acc.items()}


def accuracy_lines(acc: dict[str, SlotAccuracy]) -> list[str]:
    """A small table for the terminal."""
    lines = ["| slot | stated | title silent (commonest) | image alone (commonest) |", "| --- | ---: | ---: | ---: |"]
    for slot, a in acc.items():
        lines.append(f"| {slot} | {a.stated:.3f} | {a.silent:.3f} ({a.silent_prior:.3f}, n={a.n_silent}) | "
                     f"{a.image:.3f} ({a.image_prior:.3f}) |")
    return lines
