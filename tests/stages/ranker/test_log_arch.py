"""The ranker's parts for what a real log adds: behaviour events, profile, price (stages.ranker.log_arch)."""

import dataclasses

import pytest
import torch

from stages.ranker.arch import CtrRanker
from stages.ranker.features import LogSide, LogSizes
from stages.ranker.log_arch import EventAttention, LogFeatures
from tests.stages.ranker.test_ranker import SIZES, E, _batch
from adsim.core.config import RankerConfig

LOG = LogSizes(kinds=5, affinity=7, profile=(4, 3), price_buckets=17)
LE = 6


def _side(r: int, c: int, fill: int = 4, seed: int = 0) -> LogSide:
    g = torch.Generator().manual_seed(seed)
    pad = torch.arange(LE)[None] < fill
    return LogSide(event_category=torch.randint(1, SIZES.leaves, (r, LE), generator=g) * pad,
                   event_brand=torch.randint(1, SIZES.brands, (r, LE), generator=g) * pad,
                   event_kind=torch.randint(1, 5, (r, LE), generator=g) * pad, event_len=torch.full((r,), fill),
                   affinity=torch.rand(r, c, 7, generator=g), profile=torch.randint(0, 3, (r, 2), generator=g),
                   price=torch.randint(0, 17, (r, c), generator=g))


def test_log_features_shapes_and_widths():
    b = _batch(r=3, c=4)
    b.log = _side(3, 4)
    part = LogFeatures(LOG, SIZES.leaves, SIZES.brands, 5)
    deep, dense = part(b)
    assert [d.shape for d in deep] == [(3, 4, 10), (3, 4, 10), (3, 4, 5), (3, 4, 7)]
    assert sum(d.shape[-1] for d in deep) == part.deep_dim and dense[0].shape[-1] == part.dense_dim


def test_event_attention_ignores_padding_and_follows_the_target():
    torch.manual_seed(0)
    part = EventAttention(SIZES.leaves, SIZES.brands, 5, 5)
    b = _batch(r=3, c=4)
    b.log = _side(3, 4, fill=3)
    interest = part(b)
    b.log.event_category[:, 3:] = 2  # padding only
    assert torch.allclose(interest, part(b))
    b.leaf = (b.leaf + 1) % SIZES.leaves  # another target category attends differently
    assert not torch.allclose(interest, part(b))


def test_a_batch_without_a_part_the_network_reads_is_one_error():
    net = CtrRanker(dataclasses.replace(SIZES, log=LOG), RankerConfig(), E, 2)
    b = _batch(r=2, c=1)
    b.log = dataclasses.replace(_side(2, 1), profile=None)
    with pytest.raises(ValueError, match="reads profile but the batch has none"):
        net(b)
    b.log = _side(2, 1)
    assert net(b).shape == (2, 1)
