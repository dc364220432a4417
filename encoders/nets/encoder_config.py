"""Fields every trained encoder's config shares (saved in its config.json)."""

from __future__ import annotations

from transformers import PretrainedConfig


class EncoderConfigBase(PretrainedConfig):
    """Tokenizer size, image and text input shapes, vision tower, transformer width/depth, embedding sizes."""

    def __init__(self, vocab_size: int = 2000, image_size: int = 32, patch_size: int = 8, vision: str = "resnet",
                 vision_hidden: int = 32, vision_layers: int = 3, hidden: int = 64,
                 layers: int = 2, heads: int = 4, embedding_dim: int = 128, matryoshka_dims: tuple[int, ...] = (32, 64, 128),
                 max_title_tokens: int = 24, max_query_tokens: int = 12, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.image_size, self.patch_size = vocab_size, image_size, patch_size
        self.vision, self.vision_hidden, self.vision_layers = vision, vision_hidden, vision_layers
        self.hidden, self.layers, self.heads = hidden, layers, heads
        self.embedding_dim, self.matryoshka_dims = embedding_dim, list(matryoshka_dims)
        self.max_title_tokens, self.max_query_tokens = max_title_tokens, max_query_tokens
