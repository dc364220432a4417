"""Small logs in the exact public formats, generated with a known click model, for tests and the docs.

`signal="embeddings"`: a user clicks an ad with probability sigmoid(base + slot + strength * u . z),
u the user's taste and z the ad's latent vector; the item-embedding file written beside the log
holds z with noise, so a ranker that reads it should win. `signal="none"`: clicks ignore z (the
same base, slot and per-ad appeal), so the embeddings carry nothing. `signal="behaviour"` (Taobao):
clicks follow each user's favourite categories, which show only in the behaviour log
(adsim.datasets.taobao_fixture). The quirks of the real dumps are kept: `\\N` and `NULL` for
missing values, duplicate rows, the trailing space in a header, missing profiles, string ids,
free-text prices, gzip.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import polars as pl

from adsim.core.files import write_parquet
from adsim.core.rng import generator
from adsim.datasets.fixture_files import SIGNALS, SIZES, FixtureSpec, latents, write_bytes, write_item_embeddings
from adsim.datasets.taobao_fixture import write_taobao

FIXTURE_FORMATS = ("taobao", "amazon", "query-set")


def _write_jsonl(rows: list[dict], path: Path, gz: bool) -> None:
    write_bytes("".join(json.dumps(r) + "\n" for r in rows).encode(), path, gz)


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
    z, u, appeal = latents(spec)
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
                  spec: FixtureSpec | None = None, size: str = "small") -> Path:
    """A fixture of format `fmt` (taobao, amazon or query-set) in `out`, of `size` (`SIZES`: small,
    or the Taobao dump's full shape) unless a `spec` is given; one error for an unknown format,
    signal or size."""
    from adsim.core.errors import ConfigError
    if signal not in SIGNALS:
        raise ConfigError(f"signal must be one of {', '.join(SIGNALS)}, got {signal!r}")
    if size not in SIZES or (size != "small" and fmt != "taobao"):
        raise ConfigError(f"size must be one of {', '.join(SIZES)} (full: taobao only), got {size!r} for {fmt}")
    if fmt == "query-set":
        return write_query_set(out, seed=seed)
    if signal == "behaviour" and fmt != "taobao":
        raise ConfigError(f"signal 'behaviour' lives in a behaviour log: taobao only, not {fmt}")
    writers = {"taobao": write_taobao, "amazon": write_amazon}
    if fmt not in writers:
        raise ConfigError(f"format must be one of {', '.join(FIXTURE_FORMATS)}, got {fmt!r}")
    return writers[fmt](out, dataclasses.replace(spec or SIZES[size], signal=signal, seed=seed, gzip=gzip))


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
