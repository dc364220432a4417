"""Parts of the MOON-style encoder (encoders.nets.moon): the modality-routed mixture of experts,
the vision detail path of the fine-grained residual, and the re-injection of the decoder's input at
every layer (the residual carried through the decoder)."""

from __future__ import annotations

import torch
from torch import nn

from encoders.nets.pooling import gem

GEM_P0 = 3.0  # initial GeM exponent, the usual start in instance retrieval


class ModalityMoE(nn.Module):
    """Feed-forward mixture of experts; the router reads (sequence composition, token modality).

    `route` must be set to a (B, T, 4) tensor before the decoder runs: the sequence's image and
    text token shares and the token's own modality one-hot. Dense (soft) routing keeps it simple
    and differentiable; `balance_loss` is E * sum_e(mean routing prob_e ^ 2), 1 when balanced.
    """

    def __init__(self, hidden: int, experts: int):
        super().__init__()
        self.experts = nn.ModuleList(nn.Sequential(nn.Linear(hidden, 2 * hidden), nn.SiLU(), nn.Linear(2 * hidden, hidden))
                                     for _ in range(experts))
        self.router = nn.Linear(4, experts)
        self.route: torch.Tensor | None = None
        self.balance_loss = torch.tensor(0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(self.router(self.route), -1)                 # (B, T, E)
        self.balance_loss = len(self.experts) * (probs.mean((0, 1)) ** 2).sum()
        out = torch.stack([e(x) for e in self.experts], -1)                # (B, T, H, E)
        return (out * probs[:, :, None, :]).sum(-1)


class DetailPath(nn.Module):
    """MOON3.0's fine-grained residual on the vision side: every vision stage pooled, earliest
    (colour, texture, small marks) to latest, concatenated, batch-normalised and mapped to an
    embedding (B, D). ResNet maps are GeM-pooled with a learnt exponent; ViT states (signed) are
    averaged."""

    def __init__(self, widths: list[int], embedding_dim: int, gem_pooling: bool):
        super().__init__()
        self.gem_pooling = gem_pooling
        if gem_pooling:
            self.p = nn.Parameter(torch.tensor(GEM_P0))
        self.head = nn.Sequential(nn.BatchNorm1d(sum(widths)), nn.Linear(sum(widths), embedding_dim))

    def forward(self, stages: list[torch.Tensor]) -> torch.Tensor:
        if self.gem_pooling:
            p = self.p.clamp(min=1.0)
            pooled = [gem(s, p) for s in stages]
        else:
            pooled = [s.mean(1) for s in stages]
        return self.head(torch.cat(pooled, 1))


def add_reinjection(layers) -> None:
    """The fine-grained residual carried through the decoder (`residual_depth = "layers"`): before
    each decoder layer l, W_l x is added to its input, x the decoder's own input columns (the image
    tokens, the vision tower's cells through the projector, and the token embeddings), so local
    detail reaches every layer rather than only the first. Each column's addition depends on that
    column's input alone, so generation with a key-value cache and the teacher-forced pass see the
    same stack. W_l is the layer's own `reinject` (saved with the model), the input its
    `reinject_inputs`, set by `MoonModel.decode` for the call only; `zero_reinjection` starts every
    W_l at zero (the stack as without)."""
    for layer in layers:
        hidden = layer.hidden_size if hasattr(layer, "hidden_size") else layer.input_layernorm.weight.shape[0]
        layer.reinject = nn.Linear(hidden, hidden)
        layer.reinject_inputs = None
        layer.register_forward_pre_hook(_reinject)


def zero_reinjection(layers) -> None:
    for layer in layers:
        nn.init.zeros_(layer.reinject.weight)
        nn.init.zeros_(layer.reinject.bias)


def _reinject(layer, args):
    return (args[0] + layer.reinject(layer.reinject_inputs).to(args[0].dtype),) + tuple(args[1:])
