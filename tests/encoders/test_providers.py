"""Embedding providers and the bad inputs they must refuse with one clear error."""

import numpy as np
import polars as pl
import pytest

from adsim.core.config import load_config
from adsim.core.errors import ConfigError, DataError
from adsim.serving.system import ArmEmbeddings
from encoders.provider import EmbeddingProvider
from encoders.registry import make_provider
from tests.support import SMOKE


def target_recall(world, provider, k=10):
    e = provider.item_embeddings()
    q = provider.query_embeddings(world.requests.request_id)
    top = np.argsort(-(q @ e.T), axis=1)[:, :k]
    return (top == world.requests.intent.target[:, None]).any(1), world.requests.modality


def test_latent_noise_quality_follows_noise(smoke_world):
    recalls = [target_recall(smoke_world, make_provider("latent-noise", {"noise": n}, smoke_world))[0].mean()
               for n in (4.0, 2.0, 1.0, 0.5, 0.0)]
    assert all(np.diff(recalls) > 0), recalls


def test_latent_noise_profiles_act_on_their_modality(smoke_world):
    """Visual noise hurts image queries; text queries do not see it."""
    good = target_recall(smoke_world, make_provider("latent-noise", {"noise": 0.3}, smoke_world))
    blind = target_recall(smoke_world, make_provider("latent-noise", {"noise": 0.3, "visual_noise": 3.0}, smoke_world))
    image, text = good[1] == 1, good[1] == 0
    assert blind[0][image].mean() < good[0][image].mean() - 0.3
    assert abs(blind[0][text].mean() - good[0][text].mean()) < 0.1


def test_latent_noise_queries_carry_only_what_they_state(smoke_world):
    """Changing an intent attribute the words do not state leaves a text or multimodal query's embedding
    unchanged; changing one they state moves it."""
    import dataclasses
    req = smoke_world.requests
    mm = np.flatnonzero((req.modality == 2) & (req.words.pattern < 0) & (req.intent.pattern >= 0))[:50]
    text = np.flatnonzero((req.modality == 0) & (req.words.colour >= 0))[:50]
    assert len(mm) == 50 and len(text) == 50
    base = make_provider("latent-noise", {"noise": 0.0}, smoke_world).query_embeddings(np.concatenate([mm, text]))
    intent = dataclasses.replace(req.intent, pattern=(req.intent.pattern + 1) % 9)  # unstated for mm
    words = dataclasses.replace(req.words, colour=np.where(req.words.colour >= 0, (req.words.colour + 1) % 14, -1).astype(np.int8))
    world = dataclasses.replace(smoke_world, requests=dataclasses.replace(req, intent=intent))
    moved = make_provider("latent-noise", {"noise": 0.0}, world).query_embeddings(mm)
    assert np.allclose(moved, base[:50])
    world = dataclasses.replace(smoke_world, requests=dataclasses.replace(req, words=words))
    said = make_provider("latent-noise", {"noise": 0.0}, world).query_embeddings(text)
    assert not np.allclose(said, base[50:], atol=1e-3)


def test_latent_noise_is_deterministic_normalised_and_batch_independent(smoke_world):
    a = make_provider("latent-noise", {"noise": 1.0, "dim": 32}, smoke_world)
    b = make_provider("latent-noise", {"noise": 1.0, "dim": 32}, smoke_world)
    assert isinstance(a, EmbeddingProvider)
    ea = a.item_embeddings()
    assert ea.shape == (1500, 32) and ea.dtype == np.float32
    assert np.allclose(np.linalg.norm(ea, axis=1), 1, atol=1e-5)
    assert np.array_equal(ea, b.item_embeddings())
    ids = np.arange(100)
    assert np.allclose(a.query_embeddings(ids)[10:20], a.query_embeddings(ids[10:20]))


@pytest.mark.parametrize("args, message", [
    ({"noise": -1}, "encoder_args.noise: must be >= 0"), ({"dim": 1}, "encoder_args.dim: must be >= 2"),
    ({"nosie": 1}, "encoder_args.nosie: unknown key"), ({"taste_weight": True}, "encoder_args.taste_weight: expected a number"),
])
def test_latent_noise_rejects_bad_args(smoke_world, args, message):
    with pytest.raises(ConfigError, match=message):
        make_provider("latent-noise", args, smoke_world)


def test_unknown_encoder_is_a_config_error(smoke_world):
    with pytest.raises(ConfigError, match="unknown encoder 'moon-xl'"):
        make_provider("moon-xl", {}, smoke_world)


def _write(tmp_path, world, item_dim=16, query_dim=16, fmt="npy", poison=None):
    rng = np.random.default_rng(0)
    items = rng.normal(size=(len(world.items.item_id), item_dim)).astype(np.float32)
    queries = rng.normal(size=(len(world.requests.request_id), query_dim)).astype(np.float32)
    if poison == "nan":
        items[5, 3] = np.nan
    paths = {}
    for name, arr, id_col in (("items", items, "item_id"), ("queries", queries, "request_id")):
        if fmt == "npy":
            paths[name] = tmp_path / f"{name}.npy"
            np.save(paths[name], arr)
        else:
            paths[name] = tmp_path / f"{name}.parquet"
            order = rng.permutation(len(arr))  # ids need not be in order
            pl.DataFrame({id_col: order, "embedding": arr[order]}).write_parquet(paths[name])
    return {k: str(v) for k, v in paths.items()}, items, queries


@pytest.mark.parametrize("fmt", ["npy", "parquet"])
def test_precomputed_reads_files(smoke_world, tmp_path, fmt):
    paths, items, queries = _write(tmp_path, smoke_world, fmt=fmt)
    p = make_provider("precomputed", paths, smoke_world)
    e = p.item_embeddings()
    assert p.dim == 16
    assert np.allclose(e, items / np.linalg.norm(items, axis=1, keepdims=True), atol=1e-6)
    q = p.query_embeddings(np.array([3, 1]))
    assert np.allclose(q[0], queries[3] / np.linalg.norm(queries[3]), atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    ({"item_dim": 16, "query_dim": 8}, "dimension 16 but query embeddings 8"),
    ({"poison": "nan"}, "NaN"),
])
def test_precomputed_rejects_bad_embeddings(smoke_world, tmp_path, kwargs, message):
    paths, _, _ = _write(tmp_path, smoke_world, **kwargs)
    with pytest.raises(DataError, match=message):
        make_provider("precomputed", paths, smoke_world)


def test_precomputed_rejects_missing_wrong_rows_and_corrupt_files(smoke_world, tmp_path):
    paths, _, _ = _write(tmp_path, smoke_world)
    with pytest.raises(DataError, match="missing file"):
        make_provider("precomputed", {**paths, "items": str(tmp_path / "nope.npy")}, smoke_world)
    np.save(tmp_path / "short.npy", np.ones((10, 16), np.float32))
    with pytest.raises(DataError, match="expected 1500 rows"):
        make_provider("precomputed", {**paths, "items": str(tmp_path / "short.npy")}, smoke_world)
    (tmp_path / "bad.parquet").write_bytes(b"garbage")
    with pytest.raises(DataError, match="bad.parquet"):
        make_provider("precomputed", {**paths, "items": str(tmp_path / "bad.parquet")}, smoke_world)
    with pytest.raises(ConfigError, match="encoder_args.queries: required"):
        make_provider("precomputed", {"items": paths["items"]}, smoke_world)


def test_empty_catalogue_is_a_data_error(smoke_world):
    import dataclasses
    cfg = load_config(SMOKE)
    unlisted = dataclasses.replace(smoke_world.items, listed_day=np.full(1500, 9, np.int16))
    world = dataclasses.replace(smoke_world, items=unlisted)
    emb = ArmEmbeddings.of("x", make_provider("latent-noise", {}, world), world.view.items, cfg.retrieval)
    with pytest.raises(DataError, match="catalogue is empty"):
        emb.retriever(0)


def test_latent_noise_item_embeddings_in_chunks_are_the_whole_table_s(smoke_world, monkeypatch):
    """Items are embedded ITEM_CHUNK at a time (bounded memory at a million items); every row
    depends on its item alone, so chunks give the same embeddings up to BLAS rounding."""
    import encoders.latent_noise as ln
    from encoders.provider_args import LatentNoiseArgs
    whole = ln.LatentNoiseProvider(smoke_world, LatentNoiseArgs(noise=0.5)).item_embeddings()
    monkeypatch.setattr(ln, "ITEM_CHUNK", 97)
    chunked = ln.LatentNoiseProvider(smoke_world, LatentNoiseArgs(noise=0.5)).item_embeddings()
    assert chunked.shape == whole.shape and np.abs(chunked - whole).max() < 1e-5


def test_shared_embeddings_are_kept_per_model_within_a_budget(monkeypatch):
    """Providers of one model (its sizes, its quantisations) share its embeddings of a view; the
    store drops the least recently used model to stay within its budget, and keeps none too large."""
    from encoders import trained
    store: dict = {}
    a = trained.shared_encoded(store, ("m", "a"), 100, 50, 8)
    assert trained.shared_encoded(store, ("m", "a"), 100, 50, 8) is a
    monkeypatch.setattr(trained, "SHARE_BYTES", 2 * 150 * 8 * 4)  # room for two such models
    b = trained.shared_encoded(store, ("m", "b"), 100, 50, 8)
    trained.shared_encoded(store, ("m", "a"), 100, 50, 8)  # a used again: b is now the oldest
    trained.shared_encoded(store, ("m", "c"), 100, 50, 8)
    assert list(store) == [("m", "a"), ("m", "c")] and b not in store.values()
    big = trained.shared_encoded(store, ("m", "d"), 1000, 50, 8)
    assert ("m", "d") not in store and big.queries.shape == (1000, 8)
