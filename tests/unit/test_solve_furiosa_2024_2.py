"""The Furiosa LLM 2024.2 documentation's parallelism rules, through the solver (issue #4 part 6).

Source: developer.furiosa.ai v2024.2.0 "Model Parallelism" (reference [S-3] in
../shared/reference/furiosa-llm.md): PP "can be at most the number of RNGD cards"; TP "should
be 4 or 8 in the 2024.2 release"; TP x PP x DP = total number of NPU PEs; examples for 4 cards
(32 PEs): (TP 8, PP 4, DP 1) and (TP 4, PP 2, DP 2), the second of which multiplies to 16.
"""
from __future__ import annotations

import pytest

from autotune import api

MODEL = "llama-3.1-8b"  # small enough that memory never decides these cases
SPACE = "furiosa-2024.2"


def _recommend(**pins):
    return api.recommend(MODEL, "rngd", cards=4, space=SPACE, explain=True, alternatives=False, **pins)


def test_tp8_pp4_dp1_on_four_cards_is_valid():
    result = _recommend(tp=8, pp=4, dp=1)
    assert result.status == "OPTIMAL"
    best = result.recommendations[0]
    assert (best.plan.tensor_parallel_size, best.plan.pipeline_parallel_size, best.plan.data_parallel_size,
            best.plan.pes_used) == (8, 4, 1, 32)
    assert best.metrics["violations"] == []


def test_tp4_pp2_dp2_is_rejected_with_the_pe_count_and_dp4_suggested():
    result = _recommend(tp=4, pp=2, dp=2)
    assert result.status == "INFEASIBLE" and not result.recommendations
    text = " ".join(result.reasons)
    assert "4 x 2 x 2 = 16 PEs" in text
    assert "32 PEs" in text
    assert "DP 4" in text


def test_dp4_is_the_fix_the_message_suggests():
    result = _recommend(tp=4, pp=2, dp=4)
    assert result.status == "OPTIMAL"
    assert result.recommendations[0].plan.pes_used == 32


def test_pp5_on_four_cards_is_rejected():
    result = _recommend(pp=5)
    assert result.status == "INFEASIBLE"
    assert any("PP 5 > 4 cards" in r for r in result.reasons)


def test_tp2_is_rejected_by_this_release():
    result = _recommend(tp=2)
    assert result.status == "INFEASIBLE"
    assert any("TP 2 not allowed by furiosa-2024.2" in r for r in result.reasons)


@pytest.mark.parametrize("objective", ["throughput", "latency"])
def test_default_without_degrees_is_the_best_valid_configuration(objective):
    result = api.recommend(MODEL, "rngd", cards=4, space=SPACE, objective=objective)
    best = result.recommendations[0]
    assert result.status == "OPTIMAL"
    assert best.plan.tensor_parallel_size in (4, 8)
    assert best.plan.pes_used == 32
    assert best.plan.pipeline_parallel_size <= 4
    listing = api.enumerate_candidates(MODEL, "rngd", cards=4, space=SPACE, objective=objective)
    assert listing.candidates[0].plan == best.plan
