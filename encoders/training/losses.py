"""The encoder's losses and schedule: InfoNCE with in-batch (and own) negatives, averaged over the
Matryoshka prefixes, and the learning-rate warm-up and cosine decay."""

from __future__ import annotations

import math

import torch
from torch import nn

WARMUP_SHARE = 0.1


def info_nce(q: torch.Tensor, k: torch.Tensor, negatives: torch.Tensor | None = None, *, scale: torch.Tensor,
             weights: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy of each q against its own k among all k in the batch (+ its own negatives)."""
    q, k = nn.functional.normalize(q, dim=-1), nn.functional.normalize(k, dim=-1)
    logits = scale * q @ k.T
    if negatives is not None:
        logits = torch.cat([logits, scale * torch.einsum("bd,bnd->bn", q, nn.functional.normalize(negatives, dim=-1))], 1)
    loss = nn.functional.cross_entropy(logits, torch.arange(len(q), device=q.device), reduction="none")
    return (loss * weights).sum() / weights.sum() if weights is not None else loss.mean()


def matryoshka(loss_fn, dims, *tensors, **kw) -> torch.Tensor:
    """Mean of `loss_fn` over embedding prefixes of each size in `dims`."""
    return torch.stack([loss_fn(*(t[..., :d] if t is not None else None for t in tensors), **kw) for d in dims]).mean()


def warmup_cosine(step: int, steps: int, warmup: float = WARMUP_SHARE, floor: float = 0.1) -> float:
    """Learning-rate multiplier: linear warm-up over the first `warmup` share of steps, then cosine
    decay to `floor`. Warm-up is what lets these small post-norm-free transformers take a larger rate."""
    n_warm = max(1, int(warmup * steps))
    if step < n_warm:
        return (step + 1) / n_warm
    t = min(1.0, (step - n_warm) / max(1, steps - n_warm))
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))
