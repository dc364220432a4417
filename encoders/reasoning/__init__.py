"""MOON3.0's reasoning-aware representation: the reasoning head, its imitation and GRPO training
steps, and the check of what it writes against the items' true attributes."""
