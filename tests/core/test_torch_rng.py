"""Private torch random streams: the numbers of one manual_seed, without touching the caller's state."""

import torch

from adsim.core.torch_rng import TorchStream


def test_a_stream_continues_across_blocks_like_one_seed():
    torch.manual_seed(5)
    want = [torch.rand(3), torch.rand(2)]
    torch.manual_seed(123)
    outside = torch.get_rng_state()
    stream = TorchStream(5)
    assert torch.equal(torch.get_rng_state(), outside)
    with stream:
        first = torch.rand(3)
    between = torch.rand(4)  # the caller's own draws in between do not disturb the stream
    with stream:
        second = torch.rand(2)
    assert torch.equal(first, want[0]) and torch.equal(second, want[1])
    torch.manual_seed(123)
    assert torch.equal(between, torch.rand(4))  # nor does the stream disturb the caller's


def test_streams_are_independent_of_each_other():
    a, b = TorchStream(1), TorchStream(1)
    with a:
        x = torch.rand(5)
    with b:
        y = torch.rand(5)
    assert torch.equal(x, y)
