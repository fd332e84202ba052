"""Engines whose limits are per attention-DP rank (vLLM, TensorRT-LLM): the search under load gives a replica
ranks x the flag's sequences and tokens, and `--emit` writes the flag per rank, so the command runs what was
simulated. SGLang divides the replica's flags itself: its limits stay whole."""
from __future__ import annotations

import shlex

import pytest

from autotune import Workload
from autotune.solver import under_load as ul

WORKLOAD = Workload(input_len=1000, output_len=200, ttft_ms=3000, tpot_ms=80)


def _search(engine: str):
    request, load = ul.resolve_under_load("qwen3-30b-a3b", "h100-sxm", WORKLOAD, lengths_file=None, cards=2,
                                          space=None, tp=2, pp=1, dp=1, ep=None, adp=2, params=None, release=None,
                                          rate=4.0, concurrency=None, slo_percentile=90, engine=engine,
                                          requests=200, seed=0)
    evaluator = ul.Evaluator(request, load)
    return request, load, evaluator, ul.search(request, load, "throughput", evaluator=evaluator)


@pytest.mark.parametrize("engine", ["tensorrt-llm", "vllm"])
def test_per_rank_engines_simulate_whole_ranks(engine):
    _, load, evaluator, answer = _search(engine)
    assert answer.best, answer.rejected
    assert load.engine.limits_per_attention_dp_rank
    layout = answer.best[0].layout
    assert layout.adp == 2
    assert evaluator.budgets_of(layout) == tuple(2 * b for b in evaluator.budgets)
    for (tp, pp, dp, ep, adp, seqs, budget) in evaluator.cache:
        assert seqs % adp == 0 and budget in evaluator.budgets_of(layout)


def test_sglang_limits_stay_the_replicas():
    _, load, evaluator, answer = _search("sglang")
    assert not load.engine.limits_per_attention_dp_rank
    assert evaluator.budgets_of(answer.best[0].layout) == evaluator.budgets
    assert any(seqs % 2 for (*_, seqs, _budget) in evaluator.cache)


@pytest.mark.parametrize("engine, fmt, seqs_flag, tokens_flag", [
    ("tensorrt-llm", "trtllm", "--max_batch_size", "--max_num_tokens"),
    ("vllm", "vllm", "--max-num-seqs", "--max-num-batched-tokens"),
])
def test_emitted_flags_per_rank_times_ranks_are_the_simulated_replica(engine, fmt, seqs_flag, tokens_flag):
    from autotune.outputs.emit import emit
    from autotune.solver.load_answers import to_recommendation

    request, load, _, answer = _search(engine)
    best = answer.best[0]
    rec = to_recommendation(request, load, best)
    text = emit(fmt, plan=rec.plan, model=request.model, workload=request.workload, hardware=request.hardware)
    words = shlex.split(text, comments=True)
    seqs, tokens = int(words[words.index(seqs_flag) + 1]), int(words[words.index(tokens_flag) + 1])
    assert (seqs * 2, tokens * 2) == (best.max_num_seqs, best.max_num_batched_tokens)


@pytest.mark.parametrize("engine, replica", [("vllm", (16, 2048)), ("sglang", (8, 1024))])
def test_simulate_reads_the_flags_as_the_engine_does(engine, replica):
    """`simulate --adp 2 --max-num-seqs 8 --max-num-batched-tokens 1024`: vLLM's two engine cores each take the
    flags (a replica of 16 and 2,048); SGLang divides them over its ranks (the replica's 8 and 1,024)."""
    from tests.cli.solver_cli import autotune

    run = autotune("simulate", "--model", "qwen3-30b-a3b", "--hardware", "h100-sxm", "--tp", "2", "--adp", "2",
                   "--engine", engine, "--max-num-seqs", "8", "--max-num-batched-tokens", "1024", "--rate", "2",
                   "--requests", "60", "--json")
    assert run.code == 0, run.stderr
    data = run.json()
    assert (data["max_num_seqs"], data["max_num_batched_tokens"]) == replica


def test_a_closed_loop_scans_whole_ranks_only():
    request, load = ul.resolve_under_load("qwen3-30b-a3b", "h100-sxm", WORKLOAD, lengths_file=None, cards=2,
                                          space=None, tp=2, pp=1, dp=1, ep=None, adp=2, params=None, release=None,
                                          rate=None, concurrency=12, slo_percentile=90, engine="vllm",
                                          requests=120, seed=0)
    evaluator = ul.Evaluator(request, load)
    layout = next(lay for lay in ul.layouts_of(request, moe=True) if lay.adp == 2)
    feasible, _ = ul.closed_loop_feasible(evaluator, layout)
    limits = sorted({seqs for (*_, seqs, _budget) in evaluator.cache})
    assert limits and all(m % 2 == 0 for m in limits)
    assert all(o.max_num_seqs % 2 == 0 for o in feasible)


def test_a_replica_smaller_than_its_ranks_is_rejected_with_the_reason():
    """M below ADP leaves no whole max_num_seqs per rank: the layout is infeasible, and says why."""
    import dataclasses

    request, load, evaluator, _ = _search("vllm")
    layout = dataclasses.replace(next(lay for lay in ul.layouts_of(request, moe=True) if lay.adp == 2), max_batch=1)
    interval, why = ul.feasible_interval(evaluator, layout)
    assert interval is None and "2 ranks need at least 2 sequences" in why
