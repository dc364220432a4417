"""Embedding providers: the `EmbeddingProvider` interface and its registry, baselines, latent-noise and
precomputed providers, trained checkpoints, and the intermediate metrics. The networks are in
`nets`, their training in `training`, MOON3.0's reasoning in `reasoning`."""
