"""Provider arguments are typed and checked when a config loads; embeddings are checked when read."""

import dataclasses

import numpy as np
import pytest

from adsim.api import load_config
from adsim.core.errors import ConfigError, DataError
from encoders.provider import check_embeddings
from encoders.provider_args import LatentNoiseArgs
from encoders.registry import PROVIDERS, parse_encoder_args
from tests.support import SMOKE


@pytest.mark.parametrize("encoder, args, message", [
    ("latent-noise", {"noise": -0.1}, "x.encoder_args.noise: must be >= 0"),
    ("latent-noise", {"dim": 1.5}, "x.encoder_args.dim: expected an integer"),
    ("latent-noise", {"taste_weight": True}, "x.encoder_args.taste_weight: expected a number"),
    ("random", {"dim": 0}, "x.encoder_args.dim: must be >= 1"),
    ("random", {"dims": 8}, "x.encoder_args.dims: unknown key"),
    ("precomputed", {"items": "a.npy"}, "x.encoder_args.queries: required"),
    ("precomputed", {"items": 3, "queries": "q.npy"}, "x.encoder_args.items: expected str"),
    ("moon", {}, "x.encoder_args.path: required"),
    ("clip", {"path": "p", "dim": -4}, "x.encoder_args.dim: must be >= 1"),
    ("hf", {"path": "p", "pooling": "max"}, "x.encoder_args.pooling: must be one of"),
    ("minilm", {"path": "p"}, "x.encoder_args.path: unknown key"),
    ("moon-xl", {}, "x.encoder: unknown encoder 'moon-xl'"),
])
def test_bad_encoder_args_name_the_key(encoder, args, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        parse_encoder_args(encoder, args, "x")


def test_every_provider_has_typed_defaults():
    for name, entry in PROVIDERS.items():
        required = [f.name for f in dataclasses.fields(entry.args)
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        assert entry.args.__dataclass_params__.frozen, name
        assert set(required) <= {"path", "items", "queries"}, (name, required)
    args = parse_encoder_args("latent-noise", {"noise": 0.4, "text_noise": 2})
    assert args == LatentNoiseArgs(noise=0.4, text_noise=2.0)
    assert (args.level("visual"), args.level("text"), args.level("taste")) == (0.4, 2.0, 0.4)


@pytest.mark.parametrize("override, message", [
    ("bootstrap.encoder_args={noise=-1}", "bootstrap.encoder_args.noise"),
    ('arms.control.encoder_args={dimm=3}', "arms.control.encoder_args.dimm: unknown key"),
    ('sweep.variants.v={encoder="hf", encoder_args={}}', "sweep.variants.v.encoder_args.path: required"),
])
def test_the_api_checks_every_provider_before_any_world_is_built(override, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_config(SMOKE, [override])


@pytest.mark.parametrize("array, message", [
    (np.ones((10,), np.float32), "expected a 2-D array"),
    (np.ones((10, 4, 1), np.float32), "expected a 2-D array"),
    (np.ones((9, 4), np.float32), "expected 10 rows, got 9"),
    (np.ones((10, 5), np.float32), "expected dimension 4, got 5"),
    (np.ones((10, 4), np.int64), "expected floating-point values, got int64"),
    (np.array([["a"] * 4] * 10), "expected floating-point values"),
    (np.where(np.arange(40).reshape(10, 4) == 6, np.nan, 1.0), "1 rows contain NaN or infinite values"),
    (np.where(np.arange(40).reshape(10, 4) == 6, np.inf, 1.0), "NaN or infinite"),
    (np.where(np.arange(40).reshape(10, 4) < 4, 0.0, 1.0), "some rows are all zeros"),
])
def test_bad_embeddings_are_one_clear_error(array, message):
    with pytest.raises(DataError, match=message):
        check_embeddings(array, 10, 4, "test embeddings")
    assert check_embeddings(np.ones((10, 4), np.float64), 10, 4, "ok").dtype == np.float32
