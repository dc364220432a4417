"""The CTR ranker: a TorchRec model over user behaviour sequences and embedding features, its
features, its serving pass, its training across torchrun ranks, and its calibration."""
