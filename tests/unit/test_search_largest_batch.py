"""batch 'auto': the listed sizes plus each layout's largest batch that fits memory."""
import numpy as np

from autotune import api
from autotune.search import build_problem, expand_batches, with_largest_batches
from autotune.specs.workload import Workload
import cost_models


def test_largest_batch_rows_are_added_only_when_unlisted_and_below_the_ceiling():
    tp, pp, dp = np.array([1, 2, 4]), np.array([1, 1, 1]), np.array([1, 1, 1])
    listed = expand_batches(tp, pp, dp, (1, 8, 64), cards=4)
    layouts = expand_batches(tp, pp, dp, (1,), cards=4)
    got = with_largest_batches(listed, layouts, np.array([5, 8, 100]), ceiling=64)
    rows = list(zip(got.tp.tolist(), got.batch.tolist()))
    # 5 is new for TP 1; 8 is listed already; 100 is above the ceiling.
    assert rows == [(1, 1), (1, 5), (1, 8), (1, 64), (2, 1), (2, 8), (2, 64), (4, 1), (4, 8), (4, 64)]


def test_auto_batch_reaches_the_memory_limit_of_the_best_layout():
    request = api.resolve("llama-3.1-70b", "rngd", Workload(), cards=4)
    problem = build_problem(model=request.model, hardware=request.hardware, space=request.space,
                            workload=request.workload, cards=4)
    best = api.recommend("llama-3.1-70b", "rngd", Workload(), cards=4).recommendations[0]
    layout = expand_batches(np.array([best.plan.tensor_parallel_size]), np.array([best.plan.pipeline_parallel_size]),
                            np.array([best.plan.data_parallel_size]), (1,), cards=4)
    largest = int(cost_models.max_batch(request.model, request.hardware, request.workload, layout)[0])
    assert best.plan.batch_size == min(largest, max(request.space.batch_sizes))
    assert largest in set(problem.candidates.batch.tolist())
