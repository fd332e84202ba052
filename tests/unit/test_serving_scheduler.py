"""Scheduler invariants of the serving simulator: limits per step, KV capacity, completion, Little's law."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from autotune import Workload, simulate
from autotune.specs.hardware_loader import load_hardware
from autotune.specs.model_loader import load_model
from cost_models.params import load_params
from cost_models.serving.engines import load_engine
from cost_models.serving.metrics import summarize_replica
from cost_models.serving.scheduler import simulate_replica
from cost_models.serving.simulator import prepare_replica

PARAMS = load_params()
MODEL = load_model("llama-3.1-8b")
H100 = load_hardware("h100-sxm")


def replica(engine: str = "vllm", hardware=H100, **overrides):
    return prepare_replica(MODEL, hardware, dtype="bf16", kv_dtype="bf16", tp=1, pp=overrides.pop("pp", 1),
                           engine=load_engine(engine, hardware), params=PARAMS, **overrides)


def run(pricer, limits, *, n=300, input_len=2000, output_len=200, concurrency=None, arrivals=None):
    steps = []
    traj = simulate_replica(pricer, limits, input_len=np.full(n, input_len), output_len=np.full(n, output_len),
                            concurrency=concurrency, arrival_s=arrivals,
                            observer=lambda seqs, tokens, kv, k: steps.append((seqs, tokens, kv)))
    return traj, np.array(steps)


def test_batch_limit_and_token_budget_hold_every_step():
    pricer, limits = replica(max_num_seqs=8, max_num_batched_tokens=512)
    traj, steps = run(pricer, limits, concurrency=32)
    assert steps[:, 0].max() == 8  # the limit binds and is never passed
    assert steps[:, 1].max() == 512  # chunked prefill fills the budget, never more
    # A 2000-token prompt with a 512-token budget takes several steps: TTFT spans at least 4 steps.
    assert np.all(traj.first_token_s - traj.scheduled_s > 0)


def test_kv_never_over_capacity_and_preemption_recomputes():
    pricer, limits = replica()
    tight = replace(limits, kv_capacity_pairs=32 * 6000.0)  # room for about 6,000 tokens: three requests
    traj, steps = run(pricer, tight, concurrency=16, n=120)
    assert steps[:, 2].max() <= tight.kv_capacity_pairs
    assert traj.preemptions > 0
    assert np.all(traj.finish_s > 0)


def test_reserved_kv_never_preempts():
    pricer, limits = replica("tensorrt-llm")
    tight = replace(limits, kv_capacity_pairs=32 * 6000.0)
    traj, steps = run(pricer, tight, concurrency=16, n=120)
    assert traj.preemptions == 0
    assert steps[:, 2].max() <= tight.kv_capacity_pairs
    assert steps[:, 0].max() == 2  # two requests of 2,200 tokens reserved in full fit 6,000


@pytest.mark.parametrize("engine", ["vllm", "sglang", "tensorrt-llm", "furiosa-llm"])
def test_every_request_finishes_in_order_of_its_events(engine):
    hardware = load_hardware("rngd") if engine == "furiosa-llm" else H100
    pricer, limits = replica(engine, hardware, **({"pp": 1} if engine != "furiosa-llm" else {}))
    arrivals = np.cumsum(np.random.default_rng(3).exponential(0.05, 200))
    traj, _ = run(pricer, limits, n=200, input_len=1500, output_len=64, arrivals=arrivals)
    assert np.all(traj.finish_s > 0)
    assert np.all(traj.arrival_s <= traj.scheduled_s)
    assert np.all(traj.scheduled_s < traj.first_token_s)
    assert np.all(traj.first_token_s < traj.finish_s)


def test_littles_law_in_a_closed_loop():
    """Clients = requests/s x mean end-to-end latency (zero think time), within 3%."""
    pricer, limits = replica()
    for clients in (4, 48):
        traj, _ = run(pricer, limits, concurrency=clients, n=20 * clients, input_len=1000, output_len=300)
        summary = summarize_replica(traj, concurrency=clients)
        assert summary.requests_per_s * float(np.mean(summary.e2e_s)) == pytest.approx(clients, rel=0.03)


def test_deterministic_for_a_seed():
    w = Workload(input_len=1000, output_len=100)
    a = simulate("llama-3.1-8b", "h100-sxm", w, tp=1, rate=20.0, requests=400, seed=5).to_dict()
    b = simulate("llama-3.1-8b", "h100-sxm", w, tp=1, rate=20.0, requests=400, seed=5).to_dict()
    c = simulate("llama-3.1-8b", "h100-sxm", w, tp=1, rate=20.0, requests=400, seed=6).to_dict()
    assert a == b
    assert a["ttft_ms"] != c["ttft_ms"]


def test_overloaded_when_the_rate_is_far_above_capacity():
    w = Workload(input_len=1000, output_len=200)
    capacity = simulate("llama-3.1-8b", "h100-sxm", w, tp=1, concurrency=256, requests=1500).requests_per_s
    over = simulate("llama-3.1-8b", "h100-sxm", w, tp=1, rate=5 * capacity, requests=2000)
    assert over.overloaded and over.ttft_ms is None and over.goodput_requests_per_s is None
    assert over.requests_per_s == pytest.approx(capacity, rel=0.1)  # it serves what it can
    under = simulate("llama-3.1-8b", "h100-sxm", w, tp=1, rate=0.5 * capacity, requests=2000)
    assert not under.overloaded and under.ttft_ms is not None
    assert under.requests_per_s == pytest.approx(0.5 * capacity, rel=0.1)


def test_goodput_counts_only_requests_within_the_slos():
    loose = simulate("llama-3.1-8b", "h100-sxm", Workload(input_len=1000, output_len=200), tp=1, concurrency=32,
                     requests=600)
    assert loose.goodput_requests_per_s == pytest.approx(loose.requests_per_s)
    tight = simulate("llama-3.1-8b", "h100-sxm",
                     Workload(input_len=1000, output_len=200, tpot_ms=loose.tpot_ms.p50 * 0.5), tp=1,
                     concurrency=32, requests=600)
    assert tight.goodput_requests_per_s == 0.0


def test_data_parallel_splits_the_traffic_evenly():
    w = Workload(input_len=1000, output_len=200)
    one = simulate("llama-3.1-8b", "h100-sxm", w, tp=1, concurrency=16, requests=400)
    two = simulate("llama-3.1-8b", "h100-sxm", w, tp=1, dp=2, concurrency=32, requests=800)
    assert two.output_tokens_per_s == pytest.approx(2 * one.output_tokens_per_s, rel=1e-9)
    assert two.tpot_ms.p50 == pytest.approx(one.tpot_ms.p50)


def test_ten_thousand_requests_of_a_70b_model_in_under_a_second():
    import time
    w = Workload(input_len=2048, output_len=512, dtype="fp8")
    start = time.perf_counter()
    simulate("llama-3.1-70b", "h100-sxm", w, tp=4, concurrency=64, requests=10_000)
    assert time.perf_counter() - start < 2.0  # 1 s target (benchmarks/bench_serving.py); slack for shared CI cores


def test_the_serving_model_imports_no_solver_module():
    import subprocess
    import sys

    code = ("import sys, cost_models.serving.simulator, cost_models.serving.validation, cost_models.serving.steady; "
            "print(sorted(m for m in sys.modules if m in ('autotune.solver.search', 'autotune.solver.formulation', "
            "'autotune.solver.solve', 'autotune.api', 'ortools')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_chunked_prompts_into_a_small_cache_all_finish_within_it():
    """Long prompts chunked through a small budget into a KV cache of under three requests: every request
    finishes, the cache is never exceeded, and preemptions recompute."""
    pricer, limits = replica(max_num_batched_tokens=256)
    tight = replace(limits, kv_capacity_pairs=32 * 5000.0)
    traj, steps = run(pricer, tight, concurrency=12, n=60, input_len=1800, output_len=20)
    assert np.all(traj.finish_s > 0)
    assert steps[:, 2].max() <= tight.kv_capacity_pairs
    assert traj.preemptions > 0


def test_measuring_every_request_includes_the_start_burst():
    from cost_models.serving.simulator import simulate_layout
    from cost_models.serving.traffic import Traffic, fixed_lengths

    traffic = Traffic(requests=128, lengths=fixed_lengths(2000, 100), concurrency=32)
    kwargs = dict(dtype="bf16", kv_dtype="bf16", tp=1, pp=1, dp=1, engine=load_engine("tensorrt-llm", H100),
                  traffic=traffic, params=PARAMS)
    steady = simulate_layout(MODEL, H100, **kwargs)
    everything = simulate_layout(MODEL, H100, **kwargs, measure="all")
    assert everything.requests == 128 and steady.requests == 64
    # 32 prompts of 2000 tokens queue at the start (4 per 8192-token step): the burst's TTFT is far longer.
    assert everything.ttft_ms.p99 > 3 * steady.ttft_ms.p99
