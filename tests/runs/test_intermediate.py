"""The intermediate metrics and the baseline providers it scores."""

import numpy as np

from adsim.runs.intermediate import labelled_queries, provider_metrics
from adsim.runs.intermediate import measure_intermediate
from encoders.registry import make_provider


def test_text_and_floor_baselines(smoke_world):
    minilm = provider_metrics(smoke_world, make_provider("minilm", {}, smoke_world))
    floor = provider_metrics(smoke_world, make_provider("random", {}, smoke_world))
    assert make_provider("minilm", {}, smoke_world).dim == 384
    assert minilm["text_recall@10"] > 2 * floor["text_recall@10"]
    assert "i2i_recall@10" not in minilm  # text-only: cannot embed an image


def test_intermediate_metrics_score_a_perfect_space_perfectly(smoke_world):
    """An oracle space (one-hot item ids, queries = their target) gets recall 1 and perfect alignment."""
    n = len(smoke_world.items.item_id)
    items = np.eye(n, dtype=np.float32)
    queries = labelled_queries(smoke_world, seed=0)
    metrics = measure_intermediate(smoke_world.view, queries, items, lambda ids: items[smoke_world.requests.intent.target[ids]]).metrics
    assert metrics["image_search_recall@1"] == metrics["text_recall@1"] == 1.0
    assert metrics["alignment"] == 0.0
