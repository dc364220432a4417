"""The encoders' networks and their inputs: the MOON-style multimodal encoder, the CLIP-style dual
encoder, the vision towers, pooling, the tokenizer, and the pixel and token batches they read."""
