"""Small hand-made problems for the solver's unit tests: real Candidates and CostTable objects.

The numbers are arbitrary (seeded); the tests check the solver's logic, not the cost model.
"""
from __future__ import annotations

import numpy as np

from autotune.specs.candidates import Candidates
from autotune.solver.search import Limit, Problem, memory_limit, slo_limits
from autotune.specs.workload import Workload
from cost_models.table import CostTable


def random_problem(seed: int, *, rows: int = 40, ttft_ms: float | None = None, tpot_ms: float | None = None,
                   rule_density: float = 0.2, capacity_gb: float = 48.0, ties: bool = False) -> Problem:
    """Returns a problem of `rows` candidates with seeded random costs, one rule and memory/SLO limits."""
    rng = np.random.default_rng(seed)
    tp = rng.choice([1, 2, 4, 8], size=rows).astype(np.int64)
    pp = rng.integers(1, 4, size=rows).astype(np.int64)
    dp = rng.integers(1, 4, size=rows).astype(np.int64)
    batch = rng.choice([1, 2, 4, 8, 16], size=rows).astype(np.int64)
    if ties:
        # Few distinct values, so that ties on every level are common.
        thr = rng.choice([100.0, 200.0, 300.0], size=rows)
        tpot = rng.choice([0.010, 0.020], size=rows)
        devices = rng.choice([1, 2], size=rows).astype(np.int64)
    else:
        thr = rng.uniform(10, 5000, size=rows)
        tpot = rng.uniform(0.005, 0.2, size=rows)
        devices = rng.integers(1, 9, size=rows).astype(np.int64)
    ttft = rng.uniform(0.05, 3.0, size=rows)
    weights = rng.uniform(5e9, 60e9, size=rows)
    kv = rng.uniform(0, 10e9, size=rows)
    act = np.full(rows, 1e9)
    reserved = np.full(rows, 2e9)
    total = weights + kv + act + reserved
    capacity = capacity_gb * 1e9
    table = CostTable(weights_bytes=weights, kv_cache_bytes=kv, activations_bytes=act, reserved_bytes=reserved,
                      total_bytes=total, capacity_bytes=capacity, ttft_s=ttft, tpot_s=tpot,
                      e2e_latency_s=ttft + tpot * 128, throughput_tokens_per_s=thr, devices_used=devices,
                      max_batch=np.full(rows, 16), fits_memory=total <= capacity)
    candidates = Candidates(tp=tp, pp=pp, dp=dp, batch=batch, cards=8)
    rule = rng.random(rows) < rule_density
    limits = (Limit(limit_id="rule_test", description="a test rule", violated=rule,
                    message=lambda r: f"row {r} breaks the test rule"),
              memory_limit(table, None))
    workload = Workload(ttft_ms=ttft_ms, tpot_ms=tpot_ms)
    limits += slo_limits(table, workload)
    return Problem(candidates=candidates, table=table, limits=limits, workload=workload)
