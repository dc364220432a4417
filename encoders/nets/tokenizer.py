"""A WordPiece tokenizer fitted to the world's titles and queries (the `tokenizers` library),
wrapped as a transformers fast tokenizer so it saves and loads with the model.

The vocabulary is chosen by a deterministic count rather than by `WordPieceTrainer`, whose
result changes from process to process (ties at the size cutoff are broken by hash-map order),
which made every trained encoder irreproducible. Vocabulary: special tokens, every character and
its `##` continuation (so any word can be spelled), then whole words by frequency, ties broken
alphabetically. Normaliser, pre-tokeniser and WordPiece model are the library's.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
from transformers import PreTrainedTokenizerFast

SPECIAL = ["[PAD]", "[UNK]"]


def train_tokenizer(texts: np.ndarray, vocab_size: int) -> PreTrainedTokenizerFast:
    normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.Lowercase(), normalizers.StripAccents()])
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    counts: Counter[str] = Counter()
    for text in texts:
        if text:
            counts.update(w for w, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(str(text))))
    chars = sorted({c for w in counts for c in w})
    base = SPECIAL + chars + [f"##{c}" for c in chars]
    taken = set(base)
    words = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if w not in taken]
    vocab = base + words[: max(0, vocab_size - len(base))]
    tok = Tokenizer(models.WordPiece(vocab={t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer, tok.pre_tokenizer = normalizer, pre_tokenizer
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]")


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerFast:
    return PreTrainedTokenizerFast.from_pretrained(str(path))


def encode_texts(tokenizer: PreTrainedTokenizerFast, texts, max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask), both (N, max_len); empty strings give all-padding rows."""
    out = tokenizer([str(t) for t in texts], padding="max_length", truncation=True, max_length=max_len,
                    return_tensors="pt")
    return out["input_ids"], out["attention_mask"]
