"""Pieces of the search under load: the peak of requests in flight, and limits above it changing nothing."""
import numpy as np

from autotune import Workload, simulate
from cost_models.serving.simulator import peak_in_flight


def test_peak_in_flight_counts_open_intervals_and_closes_before_opening():
    start = np.array([0.0, 1.0, 2.0, 3.0])
    finish = np.array([2.0, 3.0, 4.0, 5.0])
    assert peak_in_flight(start, finish) == 2  # a finish at t frees its slot for a start at t
    assert peak_in_flight(np.array([0.0, 0.0, 0.0]), np.array([1.0, 1.0, 1.0])) == 3
    assert peak_in_flight(np.array([0.0, np.nan]), np.array([1.0, np.nan])) == 1  # never scheduled: not counted


def test_a_limit_above_the_peak_changes_nothing_and_the_peak_itself_binds_nowhere():
    workload = Workload(input_len=1000, output_len=200)
    free = simulate("llama-3.1-8b", "h100-sxm", workload, tp=1, rate=5, requests=300)
    assert 1 < free.peak_running < free.max_num_seqs
    for limit in (free.peak_running + 1, free.peak_running + 7):
        capped = simulate("llama-3.1-8b", "h100-sxm", workload, tp=1, rate=5, requests=300, max_num_seqs=limit)
        assert (capped.ttft_ms, capped.tpot_ms, capped.itl_ms, capped.steps) == (free.ttft_ms, free.tpot_ms,
                                                                                free.itl_ms, free.steps)
    tight = simulate("llama-3.1-8b", "h100-sxm", workload, tp=1, rate=5, requests=300,
                     max_num_seqs=max(free.peak_running // 2, 1))
    assert tight.ttft_ms.p90 > free.ttft_ms.p90  # a limit below the peak does bind: requests wait
