"""The batch as an integer decision: bisection, the per-layout limits, and each objective's best batch."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from autotune import api
from autotune.solver.batches import MAX_BATCH, batch_range, best_batches, every_batch, first_true, last_true
from autotune.specs.candidates import Candidates
from autotune.solver.formulation import integer_tables, objective_levels, rank_order
from autotune.solver.search import expand_batches
from autotune.specs.workload import Workload
import cost_models


@pytest.mark.parametrize("seed", range(5))
def test_bisection_finds_the_edges_a_scan_finds(seed):
    rng = np.random.default_rng(seed)
    edges = rng.integers(1, 500, size=40)  # predicate true up to the edge
    lo, hi = np.ones(40, dtype=np.int64), np.full(40, 600)
    found = last_true(lambda i, b: b <= edges[i], lo, hi)
    assert found.tolist() == np.minimum(edges, 600).tolist()
    first = first_true(lambda i, b: b >= edges[i], lo, hi)
    assert first.tolist() == edges.tolist()


def _setup(model="llama-3.1-70b", hardware="rngd", cards=4, **workload):
    request = api.resolve(model, hardware, Workload(**workload), cards=cards)
    params = cost_models.load_params()

    def evaluate(rows: Candidates):
        return cost_models.evaluate(request.model, request.hardware, request.workload, rows, params=params)

    from autotune.solver.rules import degree_superset
    tp, pp, dp = degree_superset(request.space, request.hardware, request.model, cards)
    return request, evaluate, expand_batches(tp, pp, dp, (1,), cards)


def _at(layouts: Candidates, batch: np.ndarray) -> Candidates:
    return dataclasses.replace(layouts, batch=np.asarray(batch, dtype=np.int64))


def test_memory_edge_is_proven_by_the_rows_on_either_side():
    request, evaluate, layouts = _setup()
    ranges = batch_range(evaluate, request.space, request.workload, layouts)
    some = ranges.memory >= 1
    assert some.any()
    assert evaluate(_at(layouts, np.maximum(ranges.memory, 1))).fits_memory[some].all()
    assert not evaluate(_at(layouts, ranges.memory + 1)).fits_memory.any()


def test_slo_edges_are_proven_by_the_rows_on_either_side():
    request, evaluate, layouts = _setup(tpot_ms=100, ttft_ms=1500)
    ranges = batch_range(evaluate, request.space, request.workload, layouts)
    ok = ranges.feasible >= 1
    at = evaluate(_at(layouts, np.maximum(ranges.feasible, 1)))
    assert (at.tpot_s[ok] * 1e3 <= 100).all() and (at.ttft_s[ok] * 1e3 <= 1500).all()
    above = evaluate(_at(layouts, ranges.feasible + 1))
    below_cap = ranges.feasible < np.minimum(ranges.memory, ranges.runtime)
    broke = (above.tpot_s * 1e3 > 100) | (above.ttft_s * 1e3 > 1500)
    assert broke[below_cap].all()


def test_decode_buckets_cap_the_batch_per_micro_batch():
    # furiosa-2026.4: 2,048 + 512 tokens need a decode bucket of batch <= 128 (furiosa-llm.md section 6 item 2).
    request, evaluate, layouts = _setup(model="llama-3.1-8b", cards=8)
    ranges = batch_range(evaluate, request.space, request.workload, layouts)
    assert (ranges.runtime == 128 * layouts.pp).all()
    assert (ranges.feasible <= ranges.runtime).all()


def test_a_gpu_engine_has_no_runtime_cap():
    request, evaluate, layouts = _setup(model="llama-3.1-8b", hardware="h100-sxm", cards=2)
    assert (batch_range(evaluate, request.space, request.workload, layouts).runtime == MAX_BATCH).all()


@pytest.mark.parametrize("objective", ["throughput", "latency", "ttft", "e2e"])
def test_best_batch_of_each_layout_equals_a_scan_of_every_batch(objective):
    request, evaluate, layouts = _setup(tpot_ms=150)
    feasible = batch_range(evaluate, request.space, request.workload, layouts).feasible
    best = best_batches(evaluate, layouts, feasible, objective)
    every = every_batch(layouts, feasible - 1)  # rows 1..feasible per layout
    table = evaluate(every)
    levels = objective_levels(objective, integer_tables(table))
    order = rank_order(levels, np.arange(len(every)))
    seen = {}
    for row in order.tolist():
        seen.setdefault((int(every.tp[row]), int(every.pp[row]), int(every.dp[row])), int(every.batch[row]))
    for i in np.flatnonzero(feasible >= 1).tolist():
        assert best[i] == seen[(int(layouts.tp[i]), int(layouts.pp[i]), int(layouts.dp[i]))]


def test_metrics_are_monotone_in_the_batch_on_every_integer():
    # The exactness argument of autotune/solver/batches.py rests on this; checked over the whole range.
    for model, hardware, cards in (("llama-3.1-70b", "rngd", 4), ("qwen3-30b-a3b", "rngd", 8),
                                   ("llama-3.1-8b", "h100-sxm", 2), ("mixtral-8x7b-v0.1", "a100-sxm-80g", 4)):
        request, evaluate, layouts = _setup(model=model, hardware=hardware, cards=cards)
        ranges = batch_range(evaluate, request.space, request.workload, layouts)
        rows = every_batch(layouts, np.minimum(ranges.memory, 2000))
        t = evaluate(rows)
        same = np.r_[False, (rows.tp[1:] == rows.tp[:-1]) & (rows.pp[1:] == rows.pp[:-1]) & (rows.dp[1:] == rows.dp[:-1])]
        for values in (t.tpot_s, t.ttft_s, t.e2e_latency_s, t.throughput_tokens_per_s, t.total_bytes):
            assert (np.diff(values)[same[1:]] >= -1e-12 * np.abs(values[1:][same[1:]])).all(), model


def test_largest_fitting_batch_is_exact():
    # Kills "max_batch one too small": the largest batch fits, one more does not.
    for model, hardware, cards in (("llama-3.1-70b", "rngd", 4), ("llama-3.1-8b", "h100-sxm", 1),
                                   ("qwen2.5-7b", "l40s", 2)):
        request, evaluate, layouts = _setup(model=model, hardware=hardware, cards=cards)
        largest = cost_models.max_batch(request.model, request.hardware, request.workload, layouts)
        fits = largest >= 1
        assert evaluate(_at(layouts, np.maximum(largest, 1))).fits_memory[fits].all()
        assert not evaluate(_at(layouts, largest + 1)).fits_memory.any()


def test_the_binding_line_names_the_decode_buckets_in_words():
    # Llama-3.2-1B on one card fits far more than 128 sequences; 2,048 + 512 tokens allow the decode
    # bucket of batch 128 at most (furiosa-llm.md section 6 item 2).
    best = api.recommend("llama-3.2-1b", "rngd", Workload(), cards=1).recommendations[0]
    assert best.plan.batch_size == 128 * best.plan.pipeline_parallel_size
    assert any("decode buckets hold at 2,560 tokens" in line for line in best.binding)
    assert not any(line.startswith(("slo_", "decode_bucket_batch", "memory:")) for line in best.binding)
