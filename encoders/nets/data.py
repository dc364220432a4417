"""Encoder inputs: pixels and token ids for items and queries, built batch by batch."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from adsim.core.vocab import Modality
from adsim.world.view import WorldView
from encoders.nets.tokenizer import encode_texts


def to_pixels(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, S, S, 3) -> float (N, 3, S, S) in [-1, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


@dataclass
class EncoderInputs:
    """One batch for MoonModel.forward; a missing part is None."""

    pixel_values: torch.Tensor | None = None
    image_mask: torch.Tensor | None = None
    input_ids: torch.Tensor | None = None
    attention_mask: torch.Tensor | None = None

    def to(self, device: torch.device) -> "EncoderInputs":
        return EncoderInputs(**{f.name: (v.to(device) if v is not None else None)
                                for f in fields(self) for v in [getattr(self, f.name)]})

    def kwargs(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __len__(self) -> int:
        first = self.pixel_values if self.pixel_values is not None else self.input_ids
        return len(first)


def pack(parts: list[EncoderInputs], image_size: int) -> EncoderInputs:
    """Concatenate batches of any modality into one, so a single forward pass (and one set of
    batch-norm statistics) serves them all: missing images are blank and masked, missing text is
    all padding, texts are padded to the longest."""
    length = max((p.input_ids.shape[1] for p in parts if p.input_ids is not None), default=1)
    pix, img_mask, ids, att = [], [], [], []
    for p in parts:
        n = len(p)
        if p.pixel_values is not None:
            pix.append(p.pixel_values)
            img_mask.append(p.image_mask if p.image_mask is not None else torch.ones(n, dtype=torch.bool))
        else:
            pix.append(torch.zeros(n, 3, image_size, image_size))
            img_mask.append(torch.zeros(n, dtype=torch.bool))
        if p.input_ids is not None:
            pad = length - p.input_ids.shape[1]
            ids.append(torch.nn.functional.pad(p.input_ids, (0, pad)))
            att.append(torch.nn.functional.pad(p.attention_mask, (0, pad)))
        else:
            ids.append(torch.zeros(n, length, dtype=torch.long))
            att.append(torch.zeros(n, length, dtype=torch.long))
    return EncoderInputs(pixel_values=torch.cat(pix), image_mask=torch.cat(img_mask), input_ids=torch.cat(ids),
                         attention_mask=torch.cat(att))


@dataclass(frozen=True)
class InputBuilder:
    """Turns rows of the world's view into encoder inputs with a given tokenizer and text lengths."""

    view: WorldView
    tokenizer: object
    max_title_tokens: int
    max_query_tokens: int

    def _text(self, texts, max_len):
        return encode_texts(self.tokenizer, texts, max_len)

    def items(self, item_ids: np.ndarray, views: np.ndarray | int = 0, image: bool = True, text: bool = True) -> EncoderInputs:
        v = self.view
        out = EncoderInputs()
        if image:
            out.pixel_values = to_pixels(v.camera.item_images(item_ids, views))
        if text:
            out.input_ids, out.attention_mask = self._text(v.items.title[item_ids], self.max_title_tokens)
        return out

    def _queries(self, photos: np.ndarray, has_photo: np.ndarray, texts: np.ndarray, modality: np.ndarray) -> EncoderInputs:
        ids, mask = self._text(np.where(modality == Modality.IMAGE, "", texts), self.max_query_tokens)
        return EncoderInputs(pixel_values=to_pixels(photos), image_mask=torch.from_numpy(has_photo),
                             input_ids=ids, attention_mask=mask)

    def requests(self, request_ids: np.ndarray) -> EncoderInputs:
        req = self.view.requests
        photos, has = self.view.camera.request_photos(request_ids)
        return self._queries(photos, has, req.query_text[request_ids], req.modality[request_ids])

    def history(self, event_ids: np.ndarray) -> EncoderInputs:
        h = self.view.history
        photos, has = self.view.camera.history_photos(event_ids)
        return self._queries(photos, has, h.query_text[event_ids], h.modality[event_ids])


def all_item_embeddings(model, builder: "InputBuilder", device: torch.device, batch: int = 512) -> np.ndarray:
    """Every item of the builder's view (image and title), `batch` at a time; L2-normalised rows."""
    n = len(builder.view.items.item_id)
    return embed(model, (builder.items(np.arange(s, min(s + batch, n))) for s in range(0, n, batch)), device)


@torch.no_grad()
def embed(model, batches, device: torch.device) -> np.ndarray:
    """Run `model` over an iterable of EncoderInputs; L2-normalised float32 rows."""
    model.eval()
    out = [torch.nn.functional.normalize(model(**b.to(device).kwargs()).float(), dim=-1).cpu() for b in batches]
    return torch.cat(out).numpy() if out else np.zeros((0, model.config.embedding_dim), np.float32)
