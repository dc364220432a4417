"""The ad system under test: retrieval, relevance, ranking, auction."""
