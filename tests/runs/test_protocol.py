"""Day 0 is independent of every arm: the bootstrap's embeddings share nothing with any arm's."""

import numpy as np

from adsim.runs.protocol import bootstrap_system
from adsim.runs.protocol import arm_encoder_args
from encoders.registry import make_provider


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.sum(a * b, axis=1)))


def test_bootstrap_and_a_same_noise_arm_are_unrelated(smoke_world, smoke_config):
    boot = bootstrap_system(smoke_world, smoke_config).embeddings.item_emb
    spec = smoke_config.arms["control"]
    assert spec.encoder == smoke_config.bootstrap.encoder and spec.encoder_args == smoke_config.bootstrap.encoder_args
    control = make_provider(spec.encoder, arm_encoder_args("control", spec.encoder, spec.encoder_args), smoke_world)
    assert abs(_cosine(boot, control.item_embeddings())) < 0.2
    # Two arms share their draws only when they name the same stream.
    twin = make_provider(spec.encoder, {**spec.encoder_args, "stream": "control"}, smoke_world)
    assert np.array_equal(twin.item_embeddings(), control.item_embeddings())
    assert arm_encoder_args("a", "latent-noise", {"stream": "x"}) == {"stream": "x"}
    assert arm_encoder_args("a", "random", {}) == {}
