"""`dist.launch`: ranks started from one process by torch's elastic launcher, as torchrun starts them."""

import numpy as np
import pytest

from adsim.core.runtime import dist
from adsim.core.errors import ConfigError


def _rank_and_sum(values: list[float]) -> tuple[int, int, list[float]]:
    me = dist.ranks()
    total = dist.all_sum(np.asarray(values) * (me.rank + 1))
    return me.rank, me.world, total.tolist()


def _fails_on_rank_one(message: str) -> int:
    if dist.ranks().rank == 1:
        raise ConfigError(message)
    return 0


def test_launch_returns_rank_zeros_result_from_a_real_group():
    rank, world, total = dist.launch(2, _rank_and_sum, [1.0, 2.5])
    assert (rank, world) == (0, 2)
    assert total == [3.0, 7.5]  # 1x + 2x: both ranks took part in the all-reduce
    assert dist.ranks().world == 1  # the caller never joined a group


def test_a_ranks_user_error_is_raised_in_the_caller_as_itself():
    with pytest.raises(ConfigError, match="^lower world.n_users$"):
        dist.launch(2, _fails_on_rank_one, "lower world.n_users")


def _launch_from_a_rank() -> str:
    try:
        dist.launch(2, _rank_and_sum, [1.0])
    except ConfigError as err:
        return str(err)
    return "launched"


def test_a_rank_may_not_launch_ranks_of_its_own():
    """Under torchrun (here: launched ranks) `--workers` is refused in one line, not nested."""
    assert dist.launch(2, _launch_from_a_rank).startswith("--workers / sweep.workers start ranks of their own")
