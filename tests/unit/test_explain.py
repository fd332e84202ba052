"""Why nothing fits: binding limits with numbers, and alternatives that are solved for real."""
from __future__ import annotations

import pytest

from autotune import api
from autotune.solver.explain import binding_limits, reasons
from tests.unit.solver_tables import random_problem


def test_weights_that_exceed_the_fleet_are_stated_with_both_numbers():
    # Llama-3.1-70B holds 70.55e9 parameters: 141.1 GB in bf16; one RNGD card holds 48 GB (datasheet).
    result = api.recommend("llama-3.1-70b", "rngd", cards=2, space="furiosa-2024.2")
    assert result.status == "INFEASIBLE"
    assert result.binding_limit_ids == ("memory",)
    assert result.reasons == ("weights need 141.1 GB in bf16; 2 rngd cards hold 96.0 GB",)


def test_alternatives_are_feasible_and_each_changes_one_thing():
    result = api.recommend("llama-3.1-70b", "rngd", cards=2, space="furiosa-2025.3")
    kinds = {a.kind: a for a in result.alternatives}
    assert kinds["cards"].value > 2
    assert kinds["dtype"].value == "fp8"  # 70.6 GB in fp8 fits 2 x 48 GB
    for alt in result.alternatives:
        assert alt.recommendation.metrics["feasible"] is True


def test_fewest_cards_is_minimal():
    result = api.recommend("llama-3.1-70b", "rngd", cards=2, space="furiosa-2025.3")
    cards = next(a for a in result.alternatives if a.kind == "cards").value
    assert api.recommend("llama-3.1-70b", "rngd", cards=cards - 1, space="furiosa-2025.3",
                         alternatives=False).status == "INFEASIBLE"


def test_an_impossible_slo_is_named_with_the_best_reachable_value_and_loosened():
    result = api.recommend("llama-3.1-8b", "h100-sxm", api.Workload(tpot_ms=0.5), cards=8)
    assert result.binding_limit_ids == ("slo_tpot",)
    assert "TPOT SLO 0.5 ms: the fastest layout within the other limits reaches" in result.reasons[0]
    looser = next(a for a in result.alternatives if a.kind == "tpot_ms")
    assert looser.value > 0.5
    assert looser.recommendation.metrics["tpot_ms"] <= looser.value


def test_shorter_prompt_alternative_fits_and_is_shorter():
    result = api.recommend("llama-3.1-8b", "h100-sxm", api.Workload(input_len=16384, ttft_ms=150), cards=1)
    assert result.status == "INFEASIBLE"
    shorter = next(a for a in result.alternatives if a.kind == "input_len")
    assert shorter.value < 16384 and shorter.value % 128 == 0
    assert shorter.recommendation.metrics["ttft_ms"] <= 150


def test_smaller_batch_alternative_when_the_batch_was_fixed():
    result = api.recommend("llama-3.1-70b", "rngd", api.Workload(batch=4096), cards=4, space="furiosa-2025.3")
    assert result.status == "INFEASIBLE"
    smaller = next(a for a in result.alternatives if a.kind == "batch")
    assert smaller.value < 4096 and smaller.recommendation.plan.batch_size == smaller.value


def test_core_of_hand_made_problem_and_its_reason():
    problem = random_problem(1, tpot_ms=1.0)
    assert binding_limits(problem) == ("slo_tpot",)
    (text,) = reasons(problem, ("slo_tpot",))
    assert text.startswith("TPOT SLO 1 ms: the fastest layout within the other limits reaches")


@pytest.mark.parametrize("pins, needle", [
    ({"tp": 4, "pp": 2, "dp": 2}, "4 x 2 x 2 = 16 PEs"),
    ({"pp": 5}, "PP 5 > 4 cards"),
    ({"tp": 2}, "TP 2 not allowed"),
])
def test_pinned_layouts_are_explained_by_what_they_break(pins, needle):
    result = api.recommend("llama-3.1-8b", "rngd", cards=4, space="furiosa-2024.2", alternatives=False, **pins)
    assert any(needle in r for r in result.reasons)
    assert all(r.startswith("the requested layout") for r in result.reasons)
