"""Attention weights over padded sequences, shared by the ranker's parts (stages.ranker.arch,
stages.ranker.log_arch, stages.ranker.serving)."""

from __future__ import annotations

import torch


def masked_softmax(scores: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis restricted to valid positions; all-invalid rows give zeros. The mask
    is added (a broadcast add is several times faster than a masked write): the dtype's lowest value
    gives an exact zero weight wherever a row has a valid position."""
    bias = torch.where(valid, 0.0, torch.finfo(scores.dtype).min).to(scores.dtype)
    return torch.softmax(scores + bias, -1) * valid.any(-1, keepdim=True)
