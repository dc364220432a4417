"""An arm's outcome sums: one vocabulary of metrics, a typed structure, the on-disk names."""

import numpy as np

from adsim.core.vocab import RATIO_METRICS, SLICE_METRICS
from adsim.runs.outcomes import RATIOS, OutcomeSums, sliced
from adsim.stats.lifts import RatioMetric
from adsim.serving.records import DayResult


def test_the_ratio_metrics_are_the_vocabulary():
    assert tuple(RATIOS) == RATIO_METRICS


def test_sums_round_trip_through_their_saved_names():
    m = lambda v: RatioMetric(np.full(3, v), np.ones(3))
    sums = OutcomeSums(overall={"ctr": m(1.0), "rpm": m(2.0)}, days={1: {"ctr": m(3.0)}, 2: {"ctr": m(4.0)}},
                       slices={"modality=image": {"ctr": m(5.0)}})
    flat = sums.flat()
    assert list(flat) == ["all/ctr", "all/rpm", "day=1/ctr", "day=2/ctr", "modality=image/ctr"]
    again = OutcomeSums.from_flat(flat)
    assert again.days[2]["ctr"].num[0] == 4.0 and again.slices["modality=image"]["ctr"].num[0] == 5.0
    assert list(again.flat()) == list(flat) and again.n_users == 3


def test_slices_count_only_their_requests_and_slots():
    d = DayResult(request_ids=np.arange(2), user_ids=np.array([0, 1]), shown=np.array([[5, 6], [7, -1]]),
                  slot_click=np.array([[True, False], [True, False]]), slot_revenue=np.array([[1.0, 0.0], [2.0, 0.0]]),
                  clicks=np.array([1, 1]), revenue=np.array([1.0, 2.0]), relevant_shown=np.zeros(2), n_shown=np.array([2, 1]),
                  relevant_retrieved=np.zeros(2), relevant_reachable=np.ones(2), target_retrieved=np.zeros(2, bool),
                  purchases=np.zeros(2), slot_true_ctr=np.zeros((2, 2)), slot_price=np.zeros((2, 2)))
    out = sliced(d, np.array([True, False]), np.array([[False, True], [True, True]]), n_users=2)
    assert tuple(out) == SLICE_METRICS
    assert out["ctr"].num.tolist() == [0, 0] and out["ctr"].den.tolist() == [1, 0]
    assert out["clicks_per_request"].den.tolist() == [1, 0] and out["rpm"].value() == 0.0
