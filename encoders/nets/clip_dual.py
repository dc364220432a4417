"""CLIP-style dual encoder baseline: separate image and text towers (the CLIP text transformer and
the same vision tower as MOON: a ResNet, as in CLIP's RN models, or CLIP's ViT), trained on the
same data and stages as the MOON encoder.

Unlike MOON it never reads image and text together: a multimodal input (an item's image and
title, or a photo with words) is the normalised sum of the two towers' embeddings. Text is
mean-pooled over its tokens (the tokenizer has no end-of-text token for CLIP's pooler).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from transformers import CLIPTextConfig, CLIPTextModel, PreTrainedModel

from encoders.nets.encoder_config import EncoderConfigBase
from encoders.nets.pooling import masked_mean
from encoders.nets.vision import VisionTower


class ClipDualConfig(EncoderConfigBase):
    """The shared encoder fields; the image tower is the same as MOON's (CLIPVisionModel when `vit`)."""

    model_type = "adsim-clip-dual"

    def __init__(self, **kwargs):  # explicit: transformers would otherwise generate one without the defaults
        super().__init__(**kwargs)


class ClipDualModel(PreTrainedModel):
    config_class = ClipDualConfig
    base_model_prefix = "clip_dual"

    def __init__(self, config: ClipDualConfig):
        super().__init__(config)
        c = config
        self.vision = VisionTower(c.vision, c.image_size, c.patch_size, c.vision_hidden, c.vision_layers, c.heads, clip=True)
        self.text = CLIPTextModel(CLIPTextConfig(vocab_size=c.vocab_size, hidden_size=c.hidden, intermediate_size=2 * c.hidden,
                                                 num_hidden_layers=c.layers, num_attention_heads=c.heads,
                                                 max_position_embeddings=max(c.max_title_tokens, c.max_query_tokens),
                                                 pad_token_id=0, bos_token_id=1, eos_token_id=2))  # pooler unused
        self.image_head = nn.Sequential(nn.BatchNorm1d(self.vision.out_dim), nn.Linear(self.vision.out_dim, c.embedding_dim))
        self.text_head = nn.Sequential(nn.BatchNorm1d(c.hidden), nn.Linear(c.hidden, c.embedding_dim))
        self.log_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        self.post_init()

    def forward(self, pixel_values: torch.Tensor | None = None, image_mask: torch.Tensor | None = None,
                input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        # Each tower runs only on the rows that have its part (so its batch norm sees real inputs).
        n = len(pixel_values) if pixel_values is not None else len(input_ids)
        device = pixel_values.device if pixel_values is not None else input_ids.device
        total = torch.zeros(n, self.config.embedding_dim, device=device)
        if pixel_values is not None:
            rows = image_mask if image_mask is not None else torch.ones(n, dtype=torch.bool, device=device)
            if rows.any():
                img = self.image_head(self.vision(pixel_values[rows])[1])
                total[rows] = total[rows] + nn.functional.normalize(img, dim=-1)
        if input_ids is not None:
            rows = attention_mask.sum(1) > 0
            if rows.any():
                states = self.text(input_ids=input_ids[rows], attention_mask=attention_mask[rows]).last_hidden_state
                txt = self.text_head(masked_mean(states, attention_mask[rows]))
                total[rows] = total[rows] + nn.functional.normalize(txt, dim=-1)
        return total

    def balance_loss(self) -> torch.Tensor:
        return torch.tensor(0.0, device=self.log_scale.device)
