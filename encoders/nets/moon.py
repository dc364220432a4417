"""MOON-style multimodal product encoder built from `transformers` modules.

    images (B, 3, S, S) --vision tower--> image states (B, N, Hv) --projector--> image tokens (B, N, H)
    title / query ids (B, T) --token embedding--> text tokens (B, T, H)
    [image tokens ; text tokens] + modality embedding --Llama decoder stack--> states (B, 1+P+T, H)
    masked mean pool (+ fusion heads, + first-layer residual) --BatchNorm, linear head--> (B, D)
    `residual`: L2-normalised, plus the L2-normalised detail path: every vision stage pooled
                (GeM), concatenated --BatchNorm, linear--> (B, D)

Rows may lack an image (text queries) or text (image queries): masks drop the missing part, so
one model embeds items (image + title), text, image and multimodal queries in one space.
The first d dimensions of the D-dim output are trained as an embedding on their own (Matryoshka).

Options (MoonConfig): `moe_experts > 0` replaces every decoder feed-forward with a mixture of
experts routed by the sequence's modality composition and each token's modality (MOON2.0), with
a load-balancing loss; `reasoning_slots` has the decoder write attributes after the input
and reads the embedding after them (MOON3.0, encoders.reasoning.head); `fusion` adds multi-head attention pooling over the final states
(modality fusion; `fusion_inputs = "raw"`: over the final states and the decoder's raw inputs, the
image cells and token embeddings, so the heads integrate the per-modality signals themselves) and
`residual` carries early detail to the output (MOON3.0): the first decoder layer's pooled states,
and a detail path that pools every vision stage, early ones included, into an embedding of its
own, added to the language model's with equal norm. An input with no text (a shopper's photo, a
catalogue view) is embedded by that vision path alone: the language model's reading of a lone
image carries the category, not the instance (docs/guide/encoders.md has the measurements).
`residual_depth = "layers"` carries the residual through the decoder instead: the decoder's input
is re-injected before every layer (encoders.nets.moon_parts.add_reinjection), in place of the
first-layer skip, and a photo without text passes through the decoder too (plus the detail path).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from transformers import DynamicCache, LlamaConfig, LlamaModel, PreTrainedModel

from encoders.nets.encoder_config import EncoderConfigBase
from encoders.nets.moon_parts import DetailPath, ModalityMoE, add_reinjection, zero_reinjection
from encoders.nets.pooling import masked_mean
from encoders.reasoning.head import Prefix, ReasoningHead
from encoders.nets.vision import VisionTower

class MoonConfig(EncoderConfigBase):
    """The shared encoder fields plus the MOON options."""

    model_type = "adsim-moon"

    def __init__(self, moe_experts: int = 0, fusion: bool = False, residual: bool = False,
                 reasoning_slots: list[int] | None = None, fusion_inputs: str = "states", residual_depth: str = "output",
                 **kwargs):
        super().__init__(**kwargs)
        self.moe_experts, self.fusion, self.residual = moe_experts, fusion, residual
        self.fusion_inputs = fusion_inputs      # "states": the fusion heads read the final states; "raw": those and the decoder's inputs
        self.residual_depth = residual_depth    # "output": first-layer skip at the output; "layers": the input re-injected at every layer
        self.reasoning_slots = list(reasoning_slots or [])  # values per reasoning slot; empty: no reasoning


class MoonModel(PreTrainedModel):
    config_class = MoonConfig
    base_model_prefix = "moon"

    def __init__(self, config: MoonConfig):
        super().__init__(config)
        c = config
        self.vision = VisionTower(c.vision, c.image_size, c.patch_size, c.vision_hidden, c.vision_layers, c.heads)
        self.projector = nn.Sequential(nn.Linear(self.vision.out_dim, c.hidden), nn.GELU(), nn.Linear(c.hidden, c.hidden))
        n_image = self.vision.n_tokens
        self.lm = LlamaModel(LlamaConfig(vocab_size=c.vocab_size, hidden_size=c.hidden, intermediate_size=2 * c.hidden,
                                         num_hidden_layers=c.layers, num_attention_heads=c.heads,
                                         num_key_value_heads=c.heads,
                                         max_position_embeddings=n_image + max(c.max_title_tokens, c.max_query_tokens) + 1 + len(c.reasoning_slots),
                                         pad_token_id=0, bos_token_id=None, eos_token_id=None))
        if c.moe_experts > 0:
            for layer in self.lm.layers:
                layer.mlp = ModalityMoE(c.hidden, c.moe_experts)
        self.modality = nn.Embedding(2, c.hidden)  # 0 image token, 1 text token
        if c.reasoning_slots:  # MOON3.0: attributes generated after the input, embedding read after them
            self.reasoning = ReasoningHead(c.reasoning_slots, c.hidden)
        if c.fusion:
            self.fusion_queries = nn.Parameter(torch.randn(c.heads, c.hidden) * 0.02)
            self.fusion = nn.MultiheadAttention(c.hidden, c.heads, batch_first=True)
        if c.residual and c.residual_depth == "layers":
            add_reinjection(self.lm.layers)
        elif c.residual:
            self.residual_proj = nn.Linear(c.hidden, c.hidden)
        if c.residual:
            # Its batch norm sees image rows only (rows without an image skip the vision path).
            self.detail = DetailPath(self.vision.stage_widths, c.embedding_dim, gem_pooling=c.vision == "resnet")
        # Batch-normalised projection head (as in SimCLR): a freshly initialised transformer maps all
        # inputs to nearly the same vector (mean pairwise cosine ~0.99 here), and InfoNCE alone stalls
        # at chance; normalising the pooled features removes that shared component.
        self.norm = nn.BatchNorm1d(c.hidden)
        self.head = nn.Linear(c.hidden, c.embedding_dim)
        self.log_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))  # learnable InfoNCE temperature
        self.post_init()
        if self._reinjects:
            zero_reinjection(self.lm.layers)

    @property
    def _reinjects(self) -> bool:
        return self.config.residual and self.config.residual_depth == "layers"

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    def prefix(self, pixel_values: torch.Tensor | None = None, image_mask: torch.Tensor | None = None,
               input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None) -> Prefix:
        """The decoder's input before any reasoning: image tokens (the vision tower run once), text
        tokens, their masks and modalities, and the detail path's embedding of each image row."""
        parts, masks, kinds = [], [], []
        b = len(pixel_values) if pixel_values is not None else len(input_ids)
        dev = (pixel_values if pixel_values is not None else input_ids).device
        keep = torch.zeros(b, dtype=torch.bool, device=dev)
        detail = None
        if pixel_values is not None:
            keep = image_mask if image_mask is not None else torch.ones(b, dtype=torch.bool, device=dev)
            # The tower sees only real images, so its batch norm never averages in blank ones.
            n, width = self.vision.n_tokens, self.vision.out_dim
            vis = torch.zeros(b, n, width, device=dev)
            if keep.any():
                seen = self.vision(pixel_values[keep], stages=self.config.residual)  # (tokens, pooled[, stages])
                vis[keep] = seen[0].to(vis.dtype)
                if self.config.residual:
                    detail = torch.zeros(b, self.config.embedding_dim, device=dev)
                    detail = detail.index_put((keep.nonzero()[:, 0],), self.detail(seen[2]).to(detail.dtype))
            parts.append(self.projector(vis))
            masks.append(keep[:, None].expand(b, n).long())
            kinds.append(torch.zeros(b, n, dtype=torch.long, device=dev))
        has_text = torch.zeros(b, dtype=torch.bool, device=dev)
        if input_ids is not None:
            parts.append(self.lm.embed_tokens(input_ids))
            masks.append(attention_mask.long())
            kinds.append(torch.ones_like(input_ids))
            has_text = attention_mask.sum(1) > 0
        x, mask, kind = torch.cat(parts, 1), torch.cat(masks, 1), torch.cat(kinds, 1)
        mask[mask.sum(1) == 0, 0] = 1  # a row with nothing to attend to (no image, empty text) still needs one visible token
        return Prefix(x=x + self.modality(kind), mask=mask, kind=kind, keep=keep, has_text=has_text, detail=detail)

    def decode(self, x: torch.Tensor, mask: torch.Tensor, kind: torch.Tensor, prefix: int | None = None,
               cache: DynamicCache | None = None):
        """The Llama stack over (B, L, H) inputs (MoE routes set from the modality composition).
        Columns from `prefix` on are reasoning tokens: they sit at fixed positions after the longest
        text the model reads, so where they are does not depend on how far a batch is padded. With a
        `cache` (keys and values of the columns before), `x` holds the last columns of `mask`/`kind`
        only and the stack runs on them alone."""
        start = mask.shape[1] - x.shape[1]
        if self.config.moe_experts > 0:
            # The composition of the input alone: reasoning tokens, however many there are so far,
            # must not move the routes, or generation (slot by slot) and training (all slots at once)
            # would be two policies.
            share, inputs = mask[:, :prefix].float(), kind[:, :prefix]
            n = share.sum(1, keepdim=True).clamp(min=1)
            comp = torch.stack([(share * (inputs == 0)).sum(1, keepdim=True) / n, (share * (inputs == 1)).sum(1, keepdim=True) / n], -1)
            route = torch.cat([comp.expand(-1, x.shape[1], -1), nn.functional.one_hot(kind[:, start:], 2).float()], -1)
            for layer in self.lm.layers:
                layer.mlp.route = route
        if self._reinjects:
            for layer in self.lm.layers:
                layer.reinject_inputs = x
        positions = None
        if prefix is not None:
            c = self.config
            positions = torch.arange(mask.shape[1], device=x.device)
            positions[prefix:] = self.vision.n_tokens + max(c.max_title_tokens, c.max_query_tokens) + torch.arange(
                mask.shape[1] - prefix, device=x.device)
            positions = positions[None, start:]
        try:
            return self.lm(inputs_embeds=x, attention_mask=mask, position_ids=positions, past_key_values=cache,
                           use_cache=cache is not None, output_hidden_states=self.config.residual and not self._reinjects)
        finally:  # the stack's inputs are not kept past the call (a copy of the model must not carry a graph)
            for layer in self.lm.layers if self._reinjects else ():
                layer.reinject_inputs = None

    def finish(self, p: Prefix, out, mask: torch.Tensor) -> torch.Tensor:
        """Pool the decoder's states (+ fusion, + first-layer residual), project, and add the detail
        path's embedding to image rows; (B, D)."""
        states = out.last_hidden_state
        pooled = masked_mean(states, mask)
        if self.config.fusion:
            q = self.fusion_queries[None].expand(len(mask), -1, -1)
            keys, key_mask = states, mask
            if self.config.fusion_inputs == "raw":  # the raw per-modality signals beside what the decoder made of them
                keys, key_mask = torch.cat([states, p.x.to(states.dtype)], 1), torch.cat([mask, p.mask], 1)
            fused, _ = self.fusion(q, keys, keys, key_padding_mask=key_mask == 0)
            pooled = pooled + fused.mean(1)
        if self.config.residual and not self._reinjects:
            pooled = pooled + self.residual_proj(masked_mean(out.hidden_states[1], mask))
        emb = self.head(self.norm(pooled))
        if p.detail is None:
            return emb
        # An image without text: the vision path alone, unless the residual runs through the decoder.
        lm_part = (p.has_text | ~p.keep | self._reinjects)[:, None].to(emb.dtype)
        emb = nn.functional.normalize(emb, dim=-1) * lm_part
        return emb + nn.functional.normalize(p.detail, dim=-1).to(emb.dtype) * p.keep[:, None].to(emb.dtype)

    def encode(self, p: Prefix, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings (B, D) read after the reasoning `tokens` (B, S), and every slot's log-probabilities
        (B, S, V) given the tokens before it (teacher forcing: one pass)."""
        x, mask, kind = self.reasoning.extend(p, tokens)
        length = p.x.shape[1]
        out = self.decode(x, mask, kind, length)
        logp = self.reasoning.log_probs(out.last_hidden_state[:, length:length + tokens.shape[1]], p.keep)
        return self.finish(p, out, mask), logp

    @torch.no_grad()
    def generate(self, p: Prefix, force: torch.Tensor | None = None, noise: torch.Tensor | None = None,
                 use_cache: bool = True) -> torch.Tensor:
        """(B, S) reasoning tokens, slot by slot: greedy, or sampled where Gumbel `noise` (B, S, V) is
        given; where `force` (B, S) is >= 0 that value is taken instead (teacher forcing). The
        decoder's keys and values are cached (transformers' `DynamicCache`), so each slot runs the
        stack on its one new token; `use_cache=False` reruns the whole sequence per slot (the same
        tokens, for tests and timing)."""
        r = self.reasoning
        tokens = torch.zeros(len(p.x), len(r.sizes), dtype=torch.long, device=p.x.device)
        cache = DynamicCache() if use_cache else None
        x, mask, kind = r.extend(p, tokens[:, :0])
        out = self.decode(x, mask, kind, p.x.shape[1], cache)
        for j in range(len(r.sizes)):
            logp = r.log_probs(out.last_hidden_state[:, -1:], p.keep, j)[:, 0]
            choice = r.choose(logp if noise is None else logp + noise[:, j], j)
            tokens[:, j] = choice if force is None else torch.where(force[:, j] >= 0, force[:, j], choice)
            if j + 1 < len(r.sizes):
                x, mask, kind = r.extend(p, tokens[:, :j + 1])
                out = self.decode(x[:, -1:] if use_cache else x, mask, kind, p.x.shape[1], cache)
        return tokens

    def forward(self, pixel_values: torch.Tensor | None = None, image_mask: torch.Tensor | None = None,
                input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Embeddings (B, embedding_dim), not normalised. Pass images, text or both. With reasoning,
        rows with an image generate their greedy attribute sequence first and are read after it."""
        p = self.prefix(pixel_values, image_mask, input_ids, attention_mask)
        if self.config.reasoning_slots:
            return self.encode(p, self.generate(p))[0]
        return self.finish(p, self.decode(p.x, p.mask, p.kind), p.mask)

    def balance_loss(self) -> torch.Tensor:
        if self.config.moe_experts <= 0:
            return torch.tensor(0.0, device=self.log_scale.device)
        return torch.stack([layer.mlp.balance_loss for layer in self.lm.layers]).mean()
