"""The public API re-exported from `autotune`: names stay the functions after use."""
from __future__ import annotations

import autotune
import pytest


def test_package_exports_the_api_functions_even_after_they_ran():
    result = autotune.sweep("llama-3.2-1b", "rngd", cards=[1])
    assert result.points[0].status == "OPTIMAL"
    front = autotune.pareto("llama-3.2-1b", "rngd", cards=1)
    assert front.points
    # Running them loads the solver's modules; the package names must still be the functions.
    assert callable(autotune.sweep) and callable(autotune.pareto) and callable(autotune.recommend)
    assert autotune.sweep("llama-3.2-1b", "rngd", cards=[2]).points[0].cards == 2


def test_recommend_and_estimate_agree_on_the_same_layout():
    best = autotune.recommend("llama-3.1-8b", "rngd", cards=2, space="furiosa-2024.2").recommendations[0]
    plan = best.plan
    one = autotune.estimate("llama-3.1-8b", "rngd", tp=plan.tensor_parallel_size, pp=plan.pipeline_parallel_size,
                            dp=plan.data_parallel_size, cards=2, space="furiosa-2024.2", batch=plan.batch_size)
    assert one.feasible
    assert abs(one.throughput_tokens_per_s - best.metrics["throughput_tokens_per_s"]) < 1e-6 * one.throughput_tokens_per_s
    assert abs(one.tpot_ms - best.metrics["tpot_ms"]) < 1e-9 * one.tpot_ms + 1e-9


def test_workload_and_loaders_are_exported():
    workload = autotune.Workload(input_len=100, output_len=10)
    assert workload.context_len == 110
    assert autotune.load_model("llama-3.1-8b").num_layers == 32  # config.json: num_hidden_layers 32
    assert autotune.load_hardware("rngd").compute_units_per_device == 8
    assert autotune.load_space("furiosa-2024.2").world_size == "equal"


def test_estimate_uses_the_workloads_batch_and_refuses_two():
    from autotune import Workload, estimate
    from autotune.errors import InputError

    assert estimate("llama-3.1-70b", "rngd", Workload(batch=7), tp=32).batch_size == 7
    assert estimate("llama-3.1-70b", "rngd", Workload(), tp=32, batch=5).batch_size == 5
    largest = estimate("llama-3.1-70b", "rngd", Workload(), tp=32)
    assert largest.batch_size == largest.largest_feasible_batch >= 1
    with pytest.raises(InputError, match="batch"):
        estimate("llama-3.1-70b", "rngd", Workload(batch=7), tp=32, batch=5)
