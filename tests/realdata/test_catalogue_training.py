"""MOON-style pretraining on an Amazon-format catalogue read from files: the image tower and the
title tower meet (an image finds titles of its own kind), and the encoder embeds the catalogue."""

import numpy as np
import polars as pl
import pytest

from adsim import cli
from adsim.core.runtime.device import torch_device
from adsim.datasets.fixtures import FixtureSpec, write_amazon
from adsim.realdata.catalogue_encode import amazon_catalogue
from encoders.nets.data import InputBuilder, embed
from encoders.trained import load_encoder
from tests.support import SMOKE

N_ITEMS = 120


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("catalogue")
    data = write_amazon(root / "am", FixtureSpec(n_users=10, n_items=N_ITEMS, per_user_day=2))
    args = ["encoder", "train", "--catalogue", str(data), "--config", str(SMOKE), "--set", "encoder_train.pretrain_steps=30",
            "--set", "encoder_train.batch_size=32", "--quiet", "--out", str(root / "enc")]
    assert cli.main(args) == 0
    return data, root


def test_images_find_titles_of_their_own_kind(trained):
    data, root = trained
    model, tokenizer = load_encoder(root / "enc")
    ids, view = amazon_catalogue(data, None, None, model.config.image_size, 0)
    b = InputBuilder(view, tokenizer, model.config.max_title_tokens, model.config.max_query_tokens)
    rows = np.arange(len(ids))
    image = embed(model, [b.items(rows, image=True, text=False)], torch_device())
    title = embed(model, [b.items(rows, image=False, text=True)], torch_device())
    kind = np.array([int(a[1:]) for a in ids])
    kind = (kind % 6) * 2 + (kind // 6) % 2  # the colour and stripes a fixture item's image and title show
    top = np.argmax(image @ title.T, 1)
    assert (kind[top] == kind).mean() > 0.5  # chance is 1/12
    assert view.camera.missing_images == 0


def test_the_catalogue_is_embedded_under_its_own_ids_and_reencoded_alike(trained, tmp_path):
    data, root = trained
    first = pl.read_parquet(root / "enc" / "item_embeddings.parquet")
    assert first.height == N_ITEMS and first["item_id"].to_list()[0].startswith("B")
    again = tmp_path / "again.parquet"
    assert cli.main(["encoder", "encode", "--encoder", "moon", "--path", str(root / "enc"), "--data", str(data),
                     "--format", "amazon", "--out", str(again)]) == 0
    np.testing.assert_allclose(np.stack(pl.read_parquet(again)["embedding"].to_numpy()),
                               np.stack(first["embedding"].to_numpy()), atol=1e-5)


def test_missing_images_are_grey_and_counted(tmp_path):
    data = write_amazon(tmp_path / "am", FixtureSpec(n_users=5, n_items=12, per_user_day=1))
    for p in list((data / "img").iterdir())[:5]:
        p.unlink()
    _, view = amazon_catalogue(data, None, None, 32, 0)
    assert view.camera.missing_images == 5
    assert view.camera.item_images(np.arange(12)).shape == (12, 32, 32, 3)
    photos = view.camera.item_photos(np.arange(12), np.arange(12), 0, "t")
    assert photos.shape == (12, 32, 32, 3) and not np.array_equal(photos, view.camera.item_images(np.arange(12)))
