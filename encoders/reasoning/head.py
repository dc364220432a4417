"""MOON3.0's reasoning-aware representation: the decoder writes a short sequence of fine-grained
attributes after the image and title tokens, and the embedding is read after it.

    [image tokens ; text tokens] + <think> r_1 ... r_S  --decoder-->  pooled over every position

Slot j holds one value of attribute SLOTS[j] in the world's vocabulary (category, colour, pattern,
style, brand), predicted from the state before it; sampling, greedy decoding and teacher forcing
all go through `MoonModel.generate`/`encode`. Imitation targets are what a listing states:
the category and brand a seller declares (as Taobao's ad_feature carries cate_id and brand), and
the colour, pattern and style its title names (-1 where the title is silent: no target there,
so the model learns to read those from the image and fills them in for the titles that miss them).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from adsim.core.taxonomy import COLOUR_WORDS, COLOURS, LEAVES, PATTERN_WORDS, PATTERNS, STYLE_WORDS, STYLES

SLOTS = ("category", "colour", "pattern", "style", "brand")  # generation order
SLOT_VALUES = {"category": LEAVES, "colour": COLOURS, "pattern": PATTERNS, "style": STYLES}
TITLE_WORDS = {"colour": COLOUR_WORDS, "pattern": PATTERN_WORDS, "style": STYLE_WORDS}
MASKED = -1e9  # logit of a value outside the slot being predicted


def slot_sizes(n_brands: int) -> list[int]:
    """Values per slot, in SLOTS order."""
    return [len(LEAVES), len(COLOURS), len(PATTERNS), len(STYLES), int(n_brands)]


def reasoning_targets(items) -> np.ndarray:
    """(n_items, S) imitation targets from what each listing states; -1 where it states nothing."""
    from encoders.training.co_augment import stated  # the title parser co-augmentation labels with

    cols = {"category": items.leaf.astype(np.int64), "brand": items.brand.astype(np.int64)}
    cols |= {name: stated(items.title, words) for name, words in TITLE_WORDS.items()}
    return np.stack([cols[s] for s in SLOTS], 1).astype(np.int64)


def decode_tokens(tokens: np.ndarray) -> list[str]:
    """Reasoning token rows as words, for logs: `category=dress colour=red ... brand=17`."""
    return [" ".join(f"{s}={SLOT_VALUES[s][v] if s in SLOT_VALUES else v}" for s, v in zip(SLOTS, row)) for row in tokens]


@dataclass(frozen=True)
class Prefix:
    """The decoder's input before reasoning, with what the output needs of each row."""

    x: torch.Tensor          # (B, L, H) token inputs, modality embedding added
    mask: torch.Tensor       # (B, L) long
    kind: torch.Tensor       # (B, L) 0 image token, 1 text token
    keep: torch.Tensor       # (B,) the row has an image (and so reasons)
    has_text: torch.Tensor   # (B,) the row has text
    detail: torch.Tensor | None  # (B, D) the vision detail path (zeros for rows without an image)

    def take(self, rows: torch.Tensor) -> "Prefix":
        """The prefix of `rows` (repeats allowed: a group of samples of one product)."""
        return Prefix(**{f.name: (v[rows] if v is not None else None)
                         for f in dataclasses.fields(self) for v in [getattr(self, f.name)]})


class ReasoningHead(nn.Module):
    """Token embeddings of the attribute values (row 0: <think>, which opens the sequence) and the
    output layer over every slot's values, masked to the slot being predicted."""

    def __init__(self, sizes: list[int], hidden: int):
        super().__init__()
        self.sizes = list(sizes)
        self._starts = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(np.int64)
        total = int(sum(self.sizes))
        self.embed = nn.Embedding(1 + total, hidden)
        # One batch norm per slot before the output layer, for the reason the embedding head has one:
        # a fresh decoder maps every input to nearly the same state, and a plain linear layer then
        # learns the slot's prior long before it learns to read the input.
        self.norms = nn.ModuleList(nn.BatchNorm1d(hidden) for _ in self.sizes)
        self.out = nn.Linear(hidden, total)

    # Built from `sizes` once per device, not held as buffers: from_pretrained creates the model on
    # the meta device, and non-persistent buffers would come back uninitialised.
    def _masks(self) -> tuple[torch.Tensor, torch.Tensor]:
        device = self.out.weight.device
        cached = self.__dict__.get("_mask_cache")
        if cached is None or cached[0] != device:
            offsets = torch.as_tensor(self._starts, device=device)
            v = torch.arange(int(sum(self.sizes)), device=device)
            lo = offsets[:, None]
            allowed = (v >= lo) & (v < lo + torch.as_tensor(self.sizes, device=device)[:, None])
            cached = (device, offsets, allowed)
            self.__dict__["_mask_cache"] = cached
        return cached[1], cached[2]

    @property
    def offsets(self) -> torch.Tensor:
        """(S,) where each slot's values start in the reasoning vocabulary."""
        return self._masks()[0]

    @property
    def allowed(self) -> torch.Tensor:
        """(S, V) which values each slot may take."""
        return self._masks()[1]

    def extend(self, p: Prefix, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Decoder inputs: the prefix, then <think> and the (B, j) tokens so far (slot values). Only
        rows with an image reason: for the others the tokens are masked out, so their states and
        embeddings are exactly those without reasoning (text carries no more than its words)."""
        b, j = tokens.shape
        ids = torch.cat([torch.zeros(b, 1, dtype=torch.long, device=tokens.device),
                         1 + self.offsets[:j] + tokens], 1)
        seen = p.keep[:, None].expand(b, j + 1).to(p.mask.dtype)
        ones = torch.ones(b, j + 1, dtype=p.kind.dtype, device=p.kind.device)
        return torch.cat([p.x, self.embed(ids)], 1), torch.cat([p.mask, seen], 1), torch.cat([p.kind, ones], 1)

    def log_probs(self, states: torch.Tensor, reasons: torch.Tensor, first: int = 0) -> torch.Tensor:
        """(B, S', H) states before slots first..first+S'-1 -> (B, S', V) log-probabilities, each over
        its slot's values. Only the rows that reason (`reasons`, (B,)) enter the batch norms'
        statistics; the others (text alone, whose tokens nothing reads) get the slots' priors."""
        normed = torch.zeros_like(states)
        if reasons.any():
            normed[reasons] = torch.stack([self.norms[first + j](states[reasons, j]) for j in range(states.shape[1])], 1)
        logits = self.out(normed).masked_fill(~self.allowed[first:first + states.shape[1]], MASKED)
        return torch.log_softmax(logits, -1)

    def choose(self, scores: torch.Tensor, j: int) -> torch.Tensor:
        """(B,) the best value of slot j under (B, V) scores."""
        o = int(self._starts[j])
        return scores[:, o:o + self.sizes[j]].argmax(1)

    def token_log_probs(self, logp: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """(B, S) log-probability of each slot's value in `tokens`."""
        return logp.gather(-1, (self.offsets[: tokens.shape[1]] + tokens)[..., None])[..., 0]


def gumbel_noise(shape: tuple[int, ...], seed: int, device: torch.device) -> torch.Tensor:
    """Gumbel(0, 1) noise from its own seeded stream (drawn on the CPU so any device gives the same draws):
    argmax(log p + noise) samples from p."""
    u = torch.rand(shape, generator=torch.Generator().manual_seed(seed)).clamp(1e-9, 1 - 1e-9)
    return (-torch.log(-torch.log(u))).to(device)
