"""The search problem: candidate rows, pinned layouts, limits and the estimate keys of a row."""
from __future__ import annotations

import numpy as np
import pytest

from autotune import api
from autotune.errors import InputError
from autotune.solver.search import expand_batches, pin_limits, with_pinned_layouts
from autotune.specs.workload import Workload


def test_expand_batches_crosses_degrees_outer_batches_inner():
    c = expand_batches(np.array([1, 2]), np.array([1, 1]), np.array([1, 3]), (4, 8), cards=2)
    assert c.tp.tolist() == [1, 1, 2, 2] and c.dp.tolist() == [1, 1, 3, 3] and c.batch.tolist() == [4, 8, 4, 8]


def test_pinned_layouts_outside_the_superset_are_added_once():
    tp, pp, dp = np.array([8, 8]), np.array([1, 2]), np.array([1, 1])
    tp2, pp2, dp2 = with_pinned_layouts(tp, pp, dp, {"pp": 5})
    rows = set(zip(tp2.tolist(), pp2.tolist(), dp2.tolist()))
    assert rows == {(8, 1, 1), (8, 2, 1), (8, 5, 1)}


def test_pin_limits_exclude_other_degrees():
    c = expand_batches(np.array([4, 8]), np.array([1, 1]), np.array([1, 1]), (1,), cards=1)
    (limit,) = pin_limits(c, {"tp": 8})
    assert limit.limit_id == "requested_tp" and limit.violated.tolist() == [True, False]
    assert limit.message(0) == "TP 4 is not the requested TP 8"


def test_problem_rows_carry_the_estimate_keys_and_the_plan():
    request = api.resolve("llama-3.1-8b", "rngd", cards=2, space="furiosa-2024.2")
    problem = request.problem()
    row = int(np.flatnonzero(problem.feasible)[0])
    metrics = problem.metrics(row)
    assert metrics["feasible"] is True and metrics["violations"] == []
    assert metrics["memory_per_device_bytes"]["capacity"] == 48e9  # RNGD datasheet: 48 GB HBM3
    plan = problem.plan(row)
    assert plan.pes_used == plan.tensor_parallel_size * plan.pipeline_parallel_size * plan.data_parallel_size


def test_resolve_rejects_a_space_for_other_hardware_and_an_unserved_dtype():
    with pytest.raises(InputError, match="tp_unit"):
        api.resolve("llama-3.1-8b", "h100-sxm", space="furiosa-2024.2")
    space = api.load_space("furiosa-2024.2")
    unserved = next((d for d in ("fp4", "int4", "fp8", "int8") if d not in space.dtypes), None)
    if unserved is not None:
        with pytest.raises(InputError, match="--dtype"):
            api.resolve("llama-3.1-8b", "rngd", Workload(dtype=unserved), space=space)


@pytest.mark.parametrize("text, expected", [("8", (8,)), ("1..4", (1, 2, 3, 4)), ("1,2,4,8", (1, 2, 4, 8)),
                                            ("1..3,8,2", (1, 2, 3, 8))])
def test_parse_cards(text, expected):
    assert api.parse_cards(text) == expected


@pytest.mark.parametrize("text", ["0", "a", "4..2", "1..", ""])
def test_parse_cards_rejects_with_the_flag_named(text):
    with pytest.raises(InputError, match="--cards"):
        api.parse_cards(text)


def test_device_counts_read_as_words():
    # Reasons name a layout's devices: "(1 GPU)", not "(1 GPUs)".
    from autotune.specs.hardware import counted
    assert (counted(1, "GPU"), counted(2, "card")) == ("1 GPU", "2 cards")
