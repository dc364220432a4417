"""Vision towers over product images, shared by the MOON encoder and the CLIP baseline.

    pixels (B, 3, S, S) --tower--> tokens (B, N, C), pooled (B, C)

- `resnet` (default): `transformers` ResNetModel, `layers` stages of basic blocks with widths
  width, 2*width, ...; tokens are the pooled vector followed by the final feature-map cells.
  A convolutional stem learns photo-invariant features from far fewer samples than a ViT at
  these image sizes (image-only contrastive training on the demo world, 500 steps of 64, in a
  scratch script: photo -> product recall@10 0.27 against 0.03 for the ViT); CLIP's RN models
  are the precedent.
- `vit`: ViTModel (MOON) or CLIPVisionModel (CLIP baseline), patches of `patch_size`; tokens
  are every state, pooled the CLS state (CLIP: after its post-layernorm).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from transformers import CLIPVisionConfig, CLIPVisionModel, ResNetConfig, ResNetModel, ViTConfig, ViTModel

VISION_KINDS = ("resnet", "vit")


def resnet_grid(image_size: int, layers: int) -> int:
    """Side of the ResNet's final feature map: stride-2 stem conv, stride-2 max pool, then each
    stage after the first halves it."""
    side = math.ceil(math.ceil(image_size / 2) / 2)
    for _ in range(layers - 1):
        side = math.ceil(side / 2)
    return side


def n_image_tokens(kind: str, image_size: int, patch_size: int, layers: int) -> int:
    """How many tokens one image becomes (pooled/CLS token included)."""
    if kind == "resnet":
        return resnet_grid(image_size, layers) ** 2 + 1
    return (image_size // patch_size) ** 2 + 1


class VisionTower(nn.Module):
    """One image encoder; `out_dim` is the width of its tokens and pooled vector."""

    def __init__(self, kind: str, image_size: int, patch_size: int, width: int, layers: int, heads: int,
                 clip: bool = False):
        super().__init__()
        if kind not in VISION_KINDS:
            raise ValueError(f"vision must be one of {VISION_KINDS}, got {kind!r}")
        self.kind = kind
        self.n_tokens = n_image_tokens(kind, image_size, patch_size, layers)
        if kind == "resnet":
            widths = [width * 2 ** i for i in range(layers)]
            self.model = ResNetModel(ResNetConfig(num_channels=3, embedding_size=width, hidden_sizes=widths,
                                                  depths=[1] * layers, layer_type="basic", downsample_in_first_stage=False))
            self.out_dim = widths[-1]
        elif clip:
            self.model = CLIPVisionModel(CLIPVisionConfig(image_size=image_size, patch_size=patch_size, hidden_size=width,
                                                          intermediate_size=2 * width, num_hidden_layers=layers,
                                                          num_attention_heads=heads))
            self.out_dim = width
        else:
            self.model = ViTModel(ViTConfig(image_size=image_size, patch_size=patch_size, num_channels=3, hidden_size=width,
                                            num_hidden_layers=layers, num_attention_heads=heads, intermediate_size=2 * width),
                                  add_pooling_layer=False)
            self.out_dim = width
        self.clip = clip

    @property
    def stage_widths(self) -> list[int]:
        """Channels of each output `forward(..., stages=True)` returns, earliest first."""
        if self.kind == "resnet":
            return [self.model.config.embedding_size, *self.model.config.hidden_sizes]
        return [self.out_dim] * (self.model.config.num_hidden_layers + 1)

    def forward(self, pixel_values: torch.Tensor, stages: bool = False):
        """(tokens, pooled); with `stages`, also every stage's output from the same pass, earliest
        (finest) first: ResNet maps (B, C, h, w) from the stem on, or ViT states (B, 1+P, C) from
        the patch embedding on."""
        out = self.model(pixel_values=pixel_values, output_hidden_states=stages)
        if self.kind == "resnet":
            pooled = out.pooler_output.flatten(1)                               # (B, C)
            cells = out.last_hidden_state.flatten(2).transpose(1, 2)            # (B, h*w, C)
            tokens = torch.cat([pooled[:, None], cells], 1)
        else:
            tokens = out.last_hidden_state                                      # (B, 1+P, C)
            pooled = out.pooler_output if self.clip else tokens[:, 0]
        return (tokens, pooled, list(out.hidden_states)) if stages else (tokens, pooled)
