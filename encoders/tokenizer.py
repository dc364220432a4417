"""A WordPiece tokenizer trained on the world's titles and queries (the `tokenizers` library),
wrapped as a transformers fast tokenizer so it saves and loads with the model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

SPECIAL = ["[PAD]", "[UNK]"]


def train_tokenizer(texts: np.ndarray, vocab_size: int) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.Lowercase(), normalizers.StripAccents()])
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIAL, min_frequency=1)
    tok.train_from_iterator((str(t) for t in texts if t), trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]")


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerFast:
    return PreTrainedTokenizerFast.from_pretrained(str(path))


def encode_texts(tokenizer: PreTrainedTokenizerFast, texts, max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask), both (N, max_len); empty strings give all-padding rows."""
    out = tokenizer([str(t) for t in texts], padding="max_length", truncation=True, max_length=max_len,
                    return_tensors="pt")
    return out["input_ids"], out["attention_mask"]
