"""Masked mean pooling of token states, shared by the MOON encoder, the CLIP text tower and `hf`."""

from __future__ import annotations

import torch


def masked_mean(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of (B, T, H) `states` over the positions where (B, T) `mask` is non-zero; (B, H)."""
    m = mask[..., None].to(states.dtype)
    return (states * m).sum(1) / m.sum(1).clamp(min=1)
