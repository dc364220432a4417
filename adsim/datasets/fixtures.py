"""Small logs in the exact public formats, generated with a known click model, for tests and the docs.

`signal="embeddings"`: a user clicks an ad with probability sigmoid(base + slot + strength * u . z),
u the user's taste and z the ad's latent vector; the item-embedding file written beside the log
holds z with noise, so a ranker that reads it should win. `signal="none"`: clicks ignore z (the
same base, slot and per-ad appeal), so the embeddings carry nothing. The quirks of the real dumps
are kept: `\\N` and `NULL` for missing values, duplicate rows, the trailing space in a header,
string ids, free-text prices, gzip.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from adsim.core.files import atomic_path, write_parquet
from adsim.core.rng import generator

SIGNALS = ("embeddings", "none")
FIXTURE_FORMATS = ("taobao", "amazon", "query-set")
PIDS = ("430548_1007", "430539_1007")
START = 1494000000  # 2017-05-05 in the raw_sample's clock
LATENT = 8


@dataclass(frozen=True)
class FixtureSpec:
    """Sizes and the click model of a generated log."""

    n_users: int = 400
    n_items: int = 600
    n_days: int = 8
    per_user_day: int = 12
    signal: str = "embeddings"
    strength: float = 2.5
    base_logit: float = -2.2
    embedding_noise: float = 0.3
    seed: int = 0
    gzip: bool = False


def _latents(spec: FixtureSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = generator(spec.seed, "fixture-latents")
    z = rng.normal(size=(spec.n_items, LATENT)) / np.sqrt(LATENT)
    u = rng.normal(size=(spec.n_users, LATENT))
    appeal = rng.normal(0, 0.3, spec.n_items)
    return z, u, appeal


def _write_bytes(data: bytes, path: Path, gz: bool) -> Path:
    """`data` at `path` (`path`.gz, compressed, with `gz`), written atomically."""
    path = path.with_name(path.name + (".gz" if gz else ""))
    with atomic_path(path) as tmp:
        tmp.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def write_csv(frame: pl.DataFrame, path: Path, gz: bool = False, header: list[str] | None = None) -> Path:
    """A CSV as the public dumps write it (missing values as `\\N`), with `header` replacing the
    column names where given (to reproduce a dump's odd header)."""
    text = frame.write_csv(null_value="\\N")
    if header:
        text = ",".join(header) + text[text.index("\n"):]
    return _write_bytes(text.encode(), path, gz)


def write_item_embeddings(path: Path, ids: list, z: np.ndarray, noise: float, seed: int) -> None:
    """The precomputed provider's Parquet format keyed by the dataset's item ids: item_id, embedding."""
    e = z + generator(seed, "fixture-embedding-noise").normal(0, noise / np.sqrt(z.shape[1]), z.shape)
    write_parquet(pl.DataFrame({"item_id": ids, "embedding": e.astype(np.float32)}), path)


def write_taobao(folder: str | Path, spec: FixtureSpec = FixtureSpec()) -> Path:
    """raw_sample, ad_feature, user_profile and behavior_log in `folder`, and item_embeddings.parquet."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = generator(spec.seed, "fixture-taobao")
    z, u, appeal = _latents(spec)
    n = spec.n_users * spec.n_days * spec.per_user_day
    user = np.repeat(np.arange(spec.n_users), spec.n_days * spec.per_user_day)
    day = np.tile(np.repeat(np.arange(spec.n_days), spec.per_user_day), spec.n_users)
    time = START + day * 86_400 + rng.integers(0, 86_000, n)
    ad = rng.integers(0, spec.n_items, n)
    pid = rng.integers(0, 2, n)
    logit = spec.base_logit + appeal[ad] - 0.5 * pid
    if spec.signal == "embeddings":
        logit = logit + spec.strength * np.einsum("nd,nd->n", u[user], z[ad])
    clk = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    raw = pl.DataFrame({"user": user + 1000, "time_stamp": time, "adgroup_id": ad + 1, "pid": np.asarray(PIDS)[pid],
                        "nonclk": 1 - clk, "clk": clk})
    raw = raw.with_columns(pl.when(pl.int_range(pl.len()) % 97 == 5).then(None).otherwise(pl.col("nonclk")).alias("nonclk"))
    raw = pl.concat([raw, raw[: n // 50]])  # the dump repeats some rows
    write_csv(raw, folder / "raw_sample.csv", spec.gzip)
    brand = np.where(np.arange(spec.n_items) % 7 == 0, None, (np.arange(spec.n_items) % 40 + 100).astype(str).astype(object))
    ads = pl.DataFrame({"adgroup_id": np.arange(spec.n_items) + 1, "cate_id": rng.integers(1, 30, spec.n_items),
                        "campaign_id": rng.integers(1, 300, spec.n_items), "customer": rng.integers(1, 120, spec.n_items),
                        "brand": pl.Series(brand.tolist(), dtype=pl.String), "price": np.round(rng.lognormal(4, 1, spec.n_items), 2)})
    ads = ads.with_columns(pl.col("brand").fill_null("NULL"))
    write_csv(ads, folder / "ad_feature.csv", spec.gzip)
    profile_cols = ["userid", "cms_segid", "cms_group_id", "final_gender_code", "age_level", "pvalue_level",
                    "shopping_level", "occupation", "new_user_class_level"]
    profile = pl.DataFrame({c: rng.integers(0, 4, spec.n_users) for c in profile_cols}).with_columns(
        pl.Series("userid", np.arange(spec.n_users) + 1000))
    write_csv(profile, folder / "user_profile.csv", spec.gzip, header=profile_cols[:-1] + ["new_user_class_level "])
    m = spec.n_users * 20
    beh = pl.DataFrame({"user": rng.integers(0, spec.n_users, m) + 1000, "time_stamp": START + rng.integers(-20 * 86_400, 0, m),
                        "btag": np.asarray(("pv", "pv", "pv", "cart", "fav", "buy"))[rng.integers(0, 6, m)],
                        "cate": rng.integers(1, 30, m), "brand": rng.integers(100, 140, m)})
    write_csv(beh, folder / "behavior_log.csv", spec.gzip)
    write_item_embeddings(folder / "item_embeddings.parquet", (np.arange(spec.n_items) + 1).tolist(), z, spec.embedding_noise, spec.seed)
    return folder


def _write_jsonl(rows: list[dict], path: Path, gz: bool) -> None:
    _write_bytes("".join(json.dumps(r) + "\n" for r in rows).encode(), path, gz)


COLOUR_NAMES = ("red", "green", "blue", "yellow", "purple", "orange")
COLOUR_RGB = ((200, 30, 30), (30, 170, 60), (40, 60, 210), (230, 210, 40), (130, 40, 160), (240, 130, 20))


def _title(i: int) -> str:
    """An item's title names what its image shows: the colour and whether it is striped."""
    return f"{COLOUR_NAMES[i % 6]} {'striped' if (i // 6) % 2 else 'plain'} lotion {i}"


def _write_images(folder: Path, asin: np.ndarray, seed: int, size: int = 32) -> None:
    """img/<asin>.jpg: the colour and stripes the title names, with a little noise."""
    from PIL import Image
    folder.mkdir(parents=True, exist_ok=True)
    rng = generator(seed, "fixture-images")
    for i, a in enumerate(asin):  # fixture generation, not a hot path
        img = np.tile(np.asarray(COLOUR_RGB[i % 6], np.float32), (size, size, 1))
        if (i // 6) % 2:
            img[::4] = 245.0
        img = np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"{a}.jpg", quality=90)


def write_amazon(folder: str | Path, spec: FixtureSpec = FixtureSpec(), category: str = "All_Beauty") -> Path:
    """<category>.jsonl and meta_<category>.jsonl in `folder`, and item_embeddings.parquet. A user's
    reviews are draws from softmax(strength * u . z + appeal) (with signal) or softmax(appeal)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = generator(spec.seed, "fixture-amazon")
    z, u, appeal = _latents(spec)
    asin = np.array([f"B{i:09d}" for i in range(spec.n_items)], dtype=object)
    score = appeal[None] + (spec.strength * u @ z.T if spec.signal == "embeddings" else 0.0)
    p = np.exp(score - score.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    rows = []
    n_reviews = rng.integers(3, 3 + 2 * spec.per_user_day, spec.n_users)
    for user in range(spec.n_users):  # fixture generation, not a hot path
        items = rng.choice(spec.n_items, size=n_reviews[user], replace=False, p=p[user])
        for k, item in enumerate(items):
            rows.append({"rating": float(rng.integers(1, 6)), "title": "ok", "text": "fine product", "images": [],
                         "asin": asin[item] + "X", "parent_asin": asin[item], "user_id": f"AG{user:08d}XYZ",
                         "timestamp": int(1_600_000_000_000 + k * 86_400_000 + rng.integers(0, 80_000_000)),
                         "helpful_vote": int(rng.integers(0, 5)), "verified_purchase": bool(rng.random() < 0.8)})
    rows += rows[:: 40]  # repeated reviews, as in the dumps
    _write_jsonl(rows, folder / f"{category}.jsonl", spec.gzip)
    _write_images(folder / "img", asin, spec.seed)
    meta = [{"main_category": "All Beauty", "title": _title(i), "average_rating": 4.1, "rating_number": 3,
             "features": ["soft"], "description": [], "price": (None if i % 5 == 0 else "from 9.99" if i % 11 == 0 else round(float(rng.lognormal(3, 1)), 2)),
             "images": [{"thumb": None, "large": f"img/{asin[i]}.jpg", "variant": "MAIN", "hi_res": None}],
             "videos": [], "store": f"store {i % 25}", "categories": ["Beauty", f"cat {i % 12}"] if i % 9 else [],
             "details": {}, "parent_asin": asin[i], "bought_together": None} for i in range(spec.n_items)]
    _write_jsonl(meta, folder / f"meta_{category}.jsonl", spec.gzip)
    write_item_embeddings(folder / "item_embeddings.parquet", asin.tolist(), z, spec.embedding_noise, spec.seed)
    return folder


def write_fixture(fmt: str, out: str | Path, signal: str = "embeddings", seed: int = 0, gzip: bool = False,
                  spec: FixtureSpec | None = None) -> Path:
    """A fixture of format `fmt` (taobao or amazon) in `out`; one error for an unknown format or signal."""
    from adsim.core.errors import ConfigError
    if signal not in SIGNALS:
        raise ConfigError(f"signal must be one of {', '.join(SIGNALS)}, got {signal!r}")
    if fmt == "query-set":
        return write_query_set(out, seed=seed)
    writers = {"taobao": write_taobao, "amazon": write_amazon}
    if fmt not in writers:
        raise ConfigError(f"format must be one of {', '.join(FIXTURE_FORMATS)}, got {fmt!r}")
    return writers[fmt](out, dataclasses.replace(spec or FixtureSpec(), signal=signal, seed=seed, gzip=gzip))


def write_query_set(folder: str | Path, n_queries: int = 300, n_items: int = 2000, noise: float = 0.7,
                      seed: int = 0) -> Path:
    """queries.jsonl in the query-set format (text, image and multimodal queries, one to three
    relevant items each, some ids missing from the catalogue), with item_embeddings.parquet and
    query_embeddings.parquet: a query's embedding is its first relevant item's plus noise."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = generator(seed, "fixture-query-set")
    items = rng.normal(size=(n_items, 32)).astype(np.float32)
    ids = [f"sku-{i:06d}" for i in range(n_items)]
    rows, query_emb = [], []
    for q in range(n_queries):  # fixture generation, not a hot path
        rel = rng.choice(n_items, size=int(rng.integers(1, 4)), replace=False)
        kind = q % 3
        rows.append({"query_id": f"q{q:05d}", "query_text": None if kind == 1 else f"red dress {q}",
                     "query_image": None if kind == 0 else f"photos/q{q:05d}.jpg",
                     "relevant_item_ids": [ids[r] for r in rel] + (["sku-unlisted"] if q % 17 == 0 else [])})
        query_emb.append(items[rel[0]] + rng.normal(0, noise, 32))
    _write_jsonl(rows, folder / "queries.jsonl", False)
    write_parquet(pl.DataFrame({"item_id": ids, "embedding": items}), folder / "item_embeddings.parquet")
    write_parquet(pl.DataFrame({"query_id": [r["query_id"] for r in rows], "embedding": np.stack(query_emb).astype(np.float32)}),
                  folder / "query_embeddings.parquet")
    return folder
