"""The per-process pricer cache (`cost_models.serving.pricing.build_pricer`): a shared pricer prices every step
exactly as a pricer built for it, so a simulation's result does not depend on what ran before it."""
from __future__ import annotations

import pytest

import cost_models
from autotune.specs.inputs import as_hardware, as_model
from cost_models.serving import pricing
from cost_models.serving.engines import load_engine
from cost_models.serving.simulator import simulate_layout
from cost_models.serving.traffic import Traffic, fixed_lengths

CASES = [("llama-3.1-8b", "h100-sxm", dict(tp=1, pp=1)), ("llama-3.1-8b", "l40s", dict(tp=2, pp=2)),
         ("qwen3-30b-a3b", "h100-sxm", dict(tp=2, pp=1, ep=2, adp=2))]


def _run(model, hardware, layout, budget, seqs):
    traffic = Traffic(requests=150, lengths=fixed_lengths(1500, 60), rate_per_s=6.0, seed=1)
    result = simulate_layout(model, hardware, dtype="bf16", kv_dtype="bf16", dp=1,
                             engine=load_engine("vllm", hardware), traffic=traffic, params=cost_models.load_params(),
                             max_num_seqs=seqs, max_num_batched_tokens=budget, **layout)
    return result.to_dict()


@pytest.mark.parametrize("name,device,layout", CASES)
def test_a_shared_pricer_gives_the_fresh_pricers_result(name, device, layout):
    model, hardware = as_model(name), as_hardware(device)
    pricing._PRICERS.clear()
    _run(model, hardware, layout, 16384, 64)  # the cache now holds a pricer for the largest step
    shared = _run(model, hardware, layout, 512, 16)  # priced by that pricer, limited to 528 tokens
    assert any(entry[0].max_tokens > 528 for entry in pricing._PRICERS.values())
    pricing._PRICERS.clear()
    fresh = _run(model, hardware, layout, 512, 16)
    assert shared == fresh


def test_limited_refuses_a_larger_step():
    model, hardware = as_model("llama-3.1-8b"), as_hardware("h100-sxm")
    pricer, _ = pricing.build_pricer(model, hardware, dtype="bf16", kv_dtype="bf16", tp=1, pp=1,
                                     params=cost_models.load_params(), max_tokens=100)
    with pytest.raises(ValueError):
        pricer.limited(101)
