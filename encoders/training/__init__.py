"""How the encoders are trained: the Lightning task, each stage's batches, the losses, MOON2.0's
image-text co-augmentation, and the entry point that trains and saves a checkpoint."""
