"""The serving simulator prices MoE replicas with expert parallel (ep) and attention data parallel (adp)."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from autotune.errors import InputError
from autotune.specs.hardware_loader import load_hardware
from autotune.specs.model_loader import load_model
from cost_models import timing
from cost_models.measurements import read_measurements
from cost_models.params import load_params
from cost_models.regimes import aligned, prepare
from cost_models.serving.engines import load_engine
from cost_models.serving.pricing import build_pricer, layout_rows
from cost_models.serving.simulator import prepare_replica, simulate_layout
from cost_models.serving.steady import closed_loop_steady_state
from cost_models.serving.traffic import Traffic, fixed_lengths

PARAMS = load_params()
H200 = load_hardware("h200-sxm")
DEEPSEEK = load_model("deepseek-v3")


def _closed(model, hardware, dtype, tp, clients, **moe):
    traffic = Traffic(requests=6 * clients, lengths=fixed_lengths(1024, 256), concurrency=clients)
    return simulate_layout(model, hardware, dtype=dtype, kv_dtype=dtype, tp=tp, pp=1, dp=1,
                           engine=load_engine("tensorrt-llm", hardware), traffic=traffic, params=PARAMS, **moe)


@pytest.mark.parametrize("model_name,hardware_name,dtype,tp,clients,golden", [
    # Golden: the simulator before ep/adp existed (commit 6661e30), closed loop 1024 in / 256 out, TensorRT-LLM:
    # (output tokens/s, mean TTFT ms, mean TPOT ms, peak KV fraction), printed with repr().
    ("deepseek-v3", "h200-sxm", "fp8", 8, 16,
     (881.6414566134315, 206.04696922048515, 17.25333433416411, 0.015218517249758309)),
    ("qwen3-30b-a3b", "h100-sxm", "fp8", 2, 64,
     (4950.3848438909845, 48.09398502044047, 12.767499255680217, 0.033979067188468964)),
])
def test_ep_adp_one_is_bit_for_bit_the_plain_tp_simulation(model_name, hardware_name, dtype, tp, clients, golden):
    model, hardware = load_model(model_name), load_hardware(hardware_name)
    default = _closed(model, hardware, dtype, tp, clients)
    explicit = _closed(model, hardware, dtype, tp, clients, ep=1, adp=1)
    assert explicit == default
    got = (default.output_tokens_per_s, default.ttft_ms.mean, default.tpot_ms.mean, default.peak_kv_fraction)
    assert got == golden


@pytest.mark.parametrize("ep,adp,balanced", [(8, 8, False), (8, 8, True), (8, 1, False), (4, 2, False),
                                             (1, 8, False)])
def test_fast_step_price_equals_pass_latency_under_ep_and_adp(ep, adp, balanced):
    """The step pricer under EP / attention DP equals `timing.pass_latency_s` of the same mix, its sequences and
    prompts dealt out whole to the attention groups (each prompt with a chunk in the step on one group)."""
    pricer, rows = build_pricer(DEEPSEEK, H200, dtype="fp8", kv_dtype="fp8", tp=8, pp=1, params=PARAMS,
                                max_tokens=9000, ep=ep, adp=adp, adp_balanced=balanced)
    assert not pricer.plain
    rng = np.random.default_rng(11)
    for _ in range(200):
        decode = int(rng.integers(0, 512))
        prefill = int(rng.integers(0, 8192)) * int(rng.integers(0, 2))
        ending = int(rng.integers(0, 4)) if prefill else 0
        decode_pairs = float(decode * rng.uniform(0, 8000) * DEEPSEEK.num_layers)
        prefill_pairs = float(rng.uniform(0, 1e9)) if prefill else 0.0
        prompts = ending + (int(rng.integers(0, 3)) if prefill else 0)
        fast = pricer.step_s(decode, prefill, ending, decode_pairs, prefill_pairs, decode + prompts)
        work = timing.StageWork(
            decode_tokens=np.array([float(decode)]), prefill_tokens=np.array([float(prefill)]),
            prefill_sequences=np.array([float(ending)]),
            decode_attention_flops=np.array([decode_pairs * pricer.flops_per_pair]),
            decode_kv_read_bytes=np.array([decode_pairs * pricer.kv_bytes_per_pair]),
            prefill_attention_flops=np.array([prefill_pairs * pricer.flops_per_pair]),
            prefill_prompts=np.array([float(prompts if prefill else 0)]))
        exact = float(timing.pass_latency_s(rows, PARAMS, work)[0])
        assert fast == pytest.approx(exact, rel=1e-6)  # differences of large terms: float rounding


def test_serving_steps_are_the_static_models_steps_at_a_fixed_batch():
    """Attention DP 8 + EP 8: a pure decode step of 256 sequences at the workload's mean context is
    `timing.decode_cycle_s` of the static model at batch 256 without prefill, and a step prefilling 3 whole
    prompts is `timing.prefill_time_s` of 3 prompts: both deal whole sequences and prompts to the groups.
    Neither is the plain TP price."""
    batch, length = 256, 1024
    one = np.array([1.0])
    priced = {}
    for moe in ({"ep": 8, "adp": 8}, {}):
        rows = layout_rows(DEEPSEEK, H200, dtype="fp8", kv_dtype="fp8", tp=8, pp=1, input_len=length,
                           output_len=length, params=PARAMS, **moe)
        pricer, _ = build_pricer(DEEPSEEK, H200, dtype="fp8", kv_dtype="fp8", tp=8, pp=1, params=PARAMS,
                                 max_tokens=4096, input_len=length, output_len=length, **moe)
        pairs_per_token = float(rows.attention_decode_flops[0]) / pricer.flops_per_pair
        decode = pricer.step_s(batch, 0, 0, batch * pairs_per_token, 0.0, batch)
        static_decode = float(timing.decode_cycle_s(rows, PARAMS, one * batch, one * 0.0)[0])
        assert decode == pytest.approx(static_decode, rel=1e-9)
        prompt_pairs = float(rows.attention_prefill_flops[0]) / pricer.flops_per_pair
        prefill = pricer.step_s(0, 3 * length, 3, 0.0, 3 * prompt_pairs, 3)
        static_prefill = float(timing.prefill_time_s(rows, PARAMS, one * 3.0, one * 0.0)[0])
        assert prefill == pytest.approx(static_prefill, rel=1e-9)
        priced[bool(moe)] = (decode, prefill)
    assert all(abs(a / b - 1.0) > 0.01 for a, b in zip(priced[True], priced[False]))


def test_a_prompt_chunk_sits_on_one_attention_group():
    """A step's one prompt chunk that does not end its prompt is still prefilled by one group of 8: the same
    seconds as when it ends there, bar the prompt's LM head and sequence overhead."""
    pricer, _ = build_pricer(DEEPSEEK, H200, dtype="fp8", kv_dtype="fp8", tp=8, pp=1, params=PARAMS,
                             max_tokens=4096, ep=8, adp=8)
    chunk = pricer.step_s(64, 2048, 0, 64 * 61 * 1000.0, 1e8, 65)
    spread = pricer.exact_s(64, 2048, 0, 64 * 61 * 1000.0, 1e8, 64)  # no prompt count: an even split
    assert chunk > 1.5 * spread


def test_attention_groups_each_hold_their_own_kv():
    """DeepSeek-V3's MLA cache is not split by head, so under plain TP every GPU holds every sequence's KV;
    with attention DP 8 each GPU holds its group's 1/8: the replica holds between 4 and 8 times the pairs
    (less than 8: each GPU also holds the non-routed weights split 1 way instead of 8)."""
    engine = load_engine("tensorrt-llm", H200)
    _, plain = prepare_replica(DEEPSEEK, H200, dtype="fp8", kv_dtype="fp8", tp=8, pp=1, engine=engine, params=PARAMS)
    _, dp8 = prepare_replica(DEEPSEEK, H200, dtype="fp8", kv_dtype="fp8", tp=8, pp=1, engine=engine, params=PARAMS,
                             ep=8, adp=8)
    assert 4.0 < dp8.kv_capacity_pairs / plain.kv_capacity_pairs < 8.0


def test_attention_dp_serves_more_at_high_concurrency_and_less_at_low():
    """TensorRT-LLM's DeepSeek-R1 guide: min-latency recipes use TP 8 (with EP), max-throughput ones attention
    DP 8 + EP 8 (Best_perf_practice_on_DeepSeek-R1_in_TensorRT-LLM.md). The simulator orders them so."""
    low_tp = _closed(DEEPSEEK, H200, "fp8", 8, 4, ep=8)
    low_dep = _closed(DEEPSEEK, H200, "fp8", 8, 4, ep=8, adp=8)
    high_tp = _closed(DEEPSEEK, H200, "fp8", 8, 512, ep=8)
    high_dep = _closed(DEEPSEEK, H200, "fp8", 8, 512, ep=8, adp=8)
    assert low_tp.tpot_ms.mean < low_dep.tpot_ms.mean
    assert high_dep.output_tokens_per_s > high_tp.output_tokens_per_s
    assert any("attention data parallel 8" in note for note in high_dep.notes)
    assert not any("expert parallel" in note for note in _closed(DEEPSEEK, H200, "fp8", 8, 4).notes)


def test_the_closed_form_steady_state_tracks_the_simulation_under_ep_and_adp():
    pricer, limits = prepare_replica(DEEPSEEK, H200, dtype="fp8", kv_dtype="fp8", tp=8, pp=1,
                                     engine=load_engine("tensorrt-llm", H200), params=PARAMS, ep=8, adp=8)
    steady = closed_loop_steady_state(pricer, limits, concurrency=256, input_len=1024, output_len=256)
    # The closed form is the desynchronised steady state: one prompt joins most steps, on one group.
    simulated = _closed(DEEPSEEK, H200, "fp8", 8, 256, ep=8, adp=8, stagger_clients=True)
    assert steady.output_tokens_per_s == pytest.approx(simulated.output_tokens_per_s, rel=0.1)


@pytest.mark.parametrize("moe,field", [({"ep": 3}, "ep"), ({"adp": 16}, "adp"), ({"ep": 0}, "ep")])
def test_degrees_that_do_not_divide_tp_are_bad_input(moe, field):
    with pytest.raises(InputError, match=field):
        _closed(DEEPSEEK, H200, "fp8", 8, 4, **moe)


def test_expert_parallel_needs_routed_experts():
    with pytest.raises(InputError, match="ep"):
        _closed(load_model("llama-3.1-8b"), H200, "fp8", 2, 4, ep=2)


def test_validate_prices_an_online_ep_adp_row_with_the_simulator(tmp_path: Path):
    """An `online_fixed_concurrency` row run with EP 8 + attention DP 8 is priced by the simulator at its
    degrees (not the static waves): the prediction is the simulated closed loop's."""
    path = tmp_path / "rows.csv"
    columns = ("row_id", "model_id", "hardware_id", "dtype", "tensor_parallel", "pipeline_parallel",
               "data_parallel", "expert_parallel", "attention_data_parallel", "input_len", "output_len",
               "batch_or_concurrency", "load_type", "throughput_output_tok_s_total", "ttft_ms", "tpot_or_itl_ms",
               "e2e_latency_s", "framework")
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerow(["t1", "deepseek-ai/DeepSeek-V3", "h200-sxm", "fp8", 8, 1, 1, 8, 8, 1024, 256, 64,
                         "online_fixed_concurrency", 1000.0, 100.0, 20.0, "", "TensorRT-LLM"])
    rows = read_measurements(str(path))[0]
    assert (rows[0].ep, rows[0].adp) == (8, 8)
    predicted = aligned(prepare(rows, PARAMS), PARAMS)["throughput"][0][0]
    traffic = Traffic(requests=6 * 64, lengths=fixed_lengths(1024, 256), concurrency=64)
    simulated = simulate_layout(DEEPSEEK, H200, dtype=rows[0].dtype, kv_dtype=rows[0].kv_dtype, tp=8, pp=1, dp=1,
                                engine=load_engine("tensorrt-llm", H200), traffic=traffic, params=PARAMS, ep=8,
                                adp=8, activation_tokens=int(prepare(rows, PARAMS).inputs.activation_tokens[0]))
    assert predicted == simulated.output_tokens_per_s
