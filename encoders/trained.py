"""`moon` / `clip`: embeddings from an encoder trained by `adsim encoder train` (MOON-style or the
CLIP-style dual baseline; the folder's config says which).

encoder_args: `path` (the training folder holding `model/`, or the model folder itself),
optional `dim` (a Matryoshka prefix size) and `bits` (scalar quantisation of the served vectors). Weights load from safetensors; a folder that is
missing, corrupt, or whose weights do not fit its config is one DataError.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from adsim.core.runtime.device import torch_device
from adsim.core.errors import ConfigError, DataError
from adsim.core.runtime.quiet import quiet_libraries
from adsim.world.view import WorldView
from encoders.nets.clip_dual import ClipDualModel
from encoders.nets.data import InputBuilder, all_item_embeddings, embed
from encoders.nets.moon import MoonModel
from encoders.provider import normalise
from encoders.provider_args import TrainedArgs
from encoders.nets.tokenizer import load_tokenizer

BATCH = 512


MODEL_CLASSES = {"adsim-moon": MoonModel, "adsim-clip-dual": ClipDualModel}


def load_weights(cls, folder: str | Path):
    """`cls.from_pretrained(folder)`, but a checkpoint whose weights do not match the class exactly
    (missing, unexpected or resized tensors, e.g. saved by an older version of the model) is an
    error: transformers would otherwise initialise the missing ones at random and carry on."""
    with quiet_libraries():  # no "Loading weights" bar per arm
        model, info = cls.from_pretrained(str(folder), output_loading_info=True)
    bad = {k: list(info.get(k) or []) for k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    if any(bad.values()):
        found = "; ".join(f"{k.replace('_', ' ')} {v[:3]}" for k, v in bad.items() if v)
        raise DataError(f"{folder}: weights do not match {cls.__name__}: {found}")
    return model


def load_encoder(path: str | Path) -> tuple[MoonModel | ClipDualModel, object]:
    """(model, tokenizer) from a training folder or its `model/` subfolder."""
    path = Path(path)
    model_dir = path / "model" if (path / "model" / "config.json").exists() else path
    if not (model_dir / "config.json").exists():
        raise DataError(f"no trained encoder at {path} (expected config.json in it or in its model/ folder)")
    try:
        kind = json.loads((model_dir / "config.json").read_text()).get("model_type")
        if kind not in MODEL_CLASSES:
            raise DataError(f"{model_dir}: unknown encoder type {kind!r} (known: {sorted(MODEL_CLASSES)})")
        model = load_weights(MODEL_CLASSES[kind], model_dir)
        tokenizer = load_tokenizer(model_dir)
    except DataError:
        raise
    except Exception as err:  # transformers raises many types for bad checkpoints
        raise DataError(f"cannot load MOON encoder from {model_dir}: {type(err).__name__}: {str(err).splitlines()[0]}") from None
    return model, tokenizer


def scalar_quantiser(items: np.ndarray, bits: int):
    """FAISS's scalar quantiser of `bits` a dimension, its ranges trained on the catalogue's vectors."""
    import faiss
    sq = faiss.ScalarQuantizer(items.shape[1], {4: faiss.ScalarQuantizer.QT_4bit, 6: faiss.ScalarQuantizer.QT_6bit,
                                                 8: faiss.ScalarQuantizer.QT_8bit}[bits])
    sq.train(np.ascontiguousarray(items, dtype=np.float32))
    return sq


def quantised(sq, x: np.ndarray) -> np.ndarray:
    """`x` as the quantiser stores it: encoded, decoded, normalised again (retrieval is by cosine)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    return normalise(sq.decode(sq.compute_codes(x)))


class _Encoded:
    """One model's full-size item and query embeddings of a view, filled as they are asked for."""

    def __init__(self, n_requests: int, dim: int):
        self.items: np.ndarray | None = None
        self.queries = np.zeros((n_requests, dim), dtype=np.float32)
        self.have_query = np.zeros(n_requests, dtype=bool)


SHARE_BYTES = 1 << 30  # the embeddings kept on a view for later providers of the same models, at most


def shared_encoded(store: dict, key: tuple, n_requests: int, n_items: int, dim: int) -> _Encoded:
    """The model's embeddings kept in `store` (a view's `encoded`), made if absent. A model whose
    embeddings exceed SHARE_BYTES is not kept; the oldest kept models go first to make room, so the
    store stays under SHARE_BYTES however many models a sweep serves."""
    if key in store:
        store[key] = store.pop(key)  # most recently used last
        return store[key]
    fresh = _Encoded(n_requests, dim)
    size = (n_requests + n_items) * dim * 4
    if size > SHARE_BYTES:
        return fresh
    while store and sum((len(e.queries) + n_items) * e.queries.shape[1] * 4 for e in store.values()) + size > SHARE_BYTES:
        store.pop(next(iter(store)))
    store[key] = fresh
    return fresh


def _model_key(path: str | Path) -> tuple:
    """A model folder and its weights file's size and time: another checkpoint is another key."""
    folder = Path(path) / "model" if (Path(path) / "model" / "config.json").exists() else Path(path)
    weights = folder / "model.safetensors"
    stat = weights.stat() if weights.exists() else None
    return ("trained", str(folder.resolve()), (stat.st_size, stat.st_mtime_ns) if stat else 0)


class TrainedEncoderProvider:
    def __init__(self, view: WorldView, args: TrainedArgs, name: str = "moon"):
        self.model, tokenizer = load_encoder(args.path)
        full = self.model.config.embedding_dim
        self.dim = args.dim if args.dim is not None else full
        if self.dim not in self.model.config.matryoshka_dims:
            raise ConfigError(f"encoder_args.dim: {self.dim} is not a trained Matryoshka size {self.model.config.matryoshka_dims}")
        self.name = name
        self.view = view
        c = self.model.config
        self.builder = InputBuilder(view, tokenizer, c.max_title_tokens, c.max_query_tokens)
        self.device = torch_device()
        self.model = self.model.to(self.device)
        self.bits = args.bits
        self._quantiser = None
        # Items and queries are pure functions of the model and the id: embedded once, whichever stage
        # (or provider of the same model: another size, a quantisation) asks first.
        self._shared = shared_encoded(view.encoded, _model_key(args.path), len(view.requests.request_id), len(view.items.item_id), full)

    def _cut(self, x: np.ndarray) -> np.ndarray:
        cut = normalise(x[:, : self.dim])
        if self.bits is None:
            return cut
        if self._quantiser is None:  # trained on the catalogue, before any query is quantised
            self._quantiser = scalar_quantiser(normalise(self._all_items()[:, : self.dim]), self.bits)
        return quantised(self._quantiser, cut)

    def _all_items(self) -> np.ndarray:
        if self._shared.items is None:
            self._shared.items = all_item_embeddings(self.model, self.builder, self.device, BATCH)
        return self._shared.items

    def item_embeddings(self) -> np.ndarray:
        return self._cut(self._all_items())

    def query_embeddings(self, request_ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(request_ids)
        shared = self._shared
        todo = np.unique(ids[~shared.have_query[ids]])
        if len(todo):
            shared.queries[todo] = embed(self.model, (self.builder.requests(todo[s:s + BATCH]) for s in range(0, len(todo), BATCH)), self.device)
            shared.have_query[todo] = True
        return self._cut(shared.queries[ids])

    def view_embeddings(self, item_ids: np.ndarray, view: int) -> np.ndarray:
        """Image-only embeddings of catalogue view `view` (for item-to-item recall)."""
        return self._cut(embed(self.model, (self.builder.items(item_ids[s:s + BATCH], view, text=False)
                                            for s in range(0, len(item_ids), BATCH)), self.device))
