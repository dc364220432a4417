"""Embedding providers (see issue: encoders)."""
