"""Pooling of token states and feature maps: masked mean (MOON, the CLIP text tower, `hf`) and
generalised mean (MOON's fine-grained vision path)."""

from __future__ import annotations

import torch


def masked_mean(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of (B, T, H) `states` over the positions where (B, T) `mask` is non-zero; (B, H)."""
    m = mask[..., None].to(states.dtype)
    return (states * m).sum(1) / m.sum(1).clamp(min=1)


def gem(maps: torch.Tensor, p: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Generalised-mean pooling of non-negative (B, C, h, w) maps over space; (B, C).

    p = 1 is the mean and p -> inf the max; between, strong local responses (a brand mark, a
    pattern's edge) count for more than in a mean (Radenović et al. 2018, instance retrieval).
    """
    return maps.clamp(min=eps).pow(p).mean((2, 3)).pow(1 / p)
