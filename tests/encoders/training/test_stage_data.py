"""Training batches: visual expansion adds more photos of the same items; every row that shows a
listed item names it, so the reasoning head knows what that listing states."""

import dataclasses

import numpy as np
import torch

from adsim.core.config import load_config
from encoders.nets.data import InputBuilder
from encoders.training.stage_data import StageData
from encoders.nets.tokenizer import train_tokenizer
from tests.support import SMOKE


def _data(view, stage, **changes):
    cfg = dataclasses.replace(load_config(SMOKE).encoder_train, batch_size=8, intra_batch=4, **changes)
    tok = train_tokenizer(view.items.title[:300], 300)
    return StageData(view, InputBuilder(view, tok, 24, 12), cfg, stage)


def test_visual_expansion_adds_other_photos_of_the_same_items(smoke_world):
    plain, expanded = _data(smoke_world.view, "pretrain").batch(5), _data(smoke_world.view, "pretrain", visual_expansion=2).batch(5)
    assert "expanded" not in plain
    assert torch.equal(plain["augmented"].pixel_values, expanded["augmented"].pixel_values)  # the rest of the batch as before
    n = len(expanded["item"])
    photos = expanded["expanded"].pixel_values
    assert photos.shape[0] == 2 * n and np.array_equal(expanded["ids"]["expanded"], np.tile(expanded["ids"]["item"], 2))
    assert not torch.equal(photos[:n], photos[n:]) and not torch.equal(photos[:n], expanded["augmented"].pixel_values)


def test_row_targets_follow_the_items_each_row_shows(smoke_world):
    data = _data(smoke_world.view, "posttrain", reasoning="imitation")
    batch = data.batch(0)
    names = ["query", "positive", "negatives", "item"]
    t = data.row_targets(batch, names).numpy()
    n_q, n_neg = len(batch["query"]), len(batch["negatives"])
    assert (t[:n_q] == -1).all()  # a query shows no listing
    assert np.array_equal(t[n_q:2 * n_q, 0], smoke_world.view.items.leaf[batch["ids"]["positive"]])
    assert np.array_equal(t[2 * n_q + n_neg:, 4], smoke_world.view.items.brand[batch["ids"]["item"]])
