"""The closed-form closed-loop steady state stays within 2% of the simulator where its premises hold.

The simulator's clients start out of step here (`stagger_clients`): the closed form is the desynchronised
steady state, not the lockstep rounds that equal-length clients started together keep.
"""
from __future__ import annotations

import pytest

from autotune.specs.hardware_loader import load_hardware
from autotune.specs.model_loader import load_model
from cost_models.params import load_params
from cost_models.serving.engines import load_engine
from cost_models.serving.simulator import prepare_replica, simulate_layout
from cost_models.serving.traffic import Traffic, fixed_lengths
from cost_models.serving.steady import closed_loop_steady_state


@pytest.mark.parametrize("model_name,hardware_name,tp,clients,input_len,output_len", [
    ("llama-3.1-8b", "h100-sxm", 1, 8, 1000, 200),
    ("llama-3.1-8b", "h100-sxm", 1, 64, 2000, 500),
    ("llama-3.1-70b", "h100-sxm", 4, 128, 1024, 1024),
    ("llama-3.1-70b", "a100-sxm-80g", 4, 32, 512, 256),
])
def test_steady_state_within_two_percent_of_the_simulator(model_name, hardware_name, tp, clients, input_len,
                                                          output_len):
    model, hardware = load_model(model_name), load_hardware(hardware_name)
    params = load_params()
    pricer, limits = prepare_replica(model, hardware, dtype="bf16", kv_dtype="bf16", tp=tp, pp=1,
                                     engine=load_engine("vllm", hardware), params=params)
    steady = closed_loop_steady_state(pricer, limits, concurrency=clients, input_len=input_len,
                                      output_len=output_len)
    assert steady.applies
    traffic = Traffic(requests=12 * clients, lengths=fixed_lengths(input_len, output_len), concurrency=clients)
    sim = simulate_layout(model, hardware, dtype="bf16", kv_dtype="bf16", tp=tp, pp=1, dp=1,
                          engine=load_engine("vllm", hardware), traffic=traffic, params=params, stagger_clients=True)
    assert steady.tpot_s * 1e3 == pytest.approx(sim.tpot_ms.mean, rel=0.02)
    assert steady.output_tokens_per_s == pytest.approx(sim.output_tokens_per_s, rel=0.02)


def test_steady_state_does_not_apply_without_mixed_steps():
    hardware = load_hardware("rngd")
    pricer, limits = prepare_replica(load_model("qwen3-4b"), hardware, dtype="fp8", kv_dtype="fp8", tp=8, pp=1,
                                     engine=load_engine("furiosa-llm", hardware), params=load_params())
    assert not closed_loop_steady_state(pricer, limits, concurrency=8, input_len=512, output_len=128).applies
