"""The simulator's fast step price equals the cost model's `timing.pass_latency_s` (and StageWork keeps its defaults)."""
from __future__ import annotations

import numpy as np
import pytest

from autotune.specs.hardware_loader import load_hardware
from autotune.specs.model_loader import load_model
from cost_models import timing
from cost_models.params import load_params
from cost_models.serving.pricing import Attention, attention_of, build_pricer, layout_rows

PARAMS = load_params()

# (model, hardware, dtype, tp, pp, ep, adp): dense, PP, MoE (plain TP, expert parallel, attention data parallel),
# sliding windows on RNGD, a PCIe device.
LAYOUTS = [
    ("llama-3.1-70b", "h100-sxm", "fp8", 4, 1, 1, 1),
    ("llama-3.1-70b", "a100-sxm-80g", "bf16", 4, 2, 1, 1),
    ("llama-3.1-8b", "l40s", "bf16", 2, 4, 1, 1),
    ("mixtral-8x7b-v0.1", "h100-sxm", "bf16", 2, 1, 1, 1),
    ("deepseek-v3", "h200-sxm", "fp8", 8, 1, 8, 8),
    ("deepseek-v3", "h200-sxm", "fp8", 4, 2, 4, 1),
    ("qwen3-235b-a22b", "h100-sxm", "fp8", 8, 1, 1, 4),
    ("gpt-oss-20b", "rngd", "bf16", 8, 1, 1, 1),
    ("qwen3-4b", "rngd", "fp8", 8, 2, 1, 1),
]


@pytest.mark.parametrize("model_name,hardware_name,dtype,tp,pp,ep,adp", LAYOUTS)
def test_fast_step_price_equals_pass_latency_on_random_mixes(model_name, hardware_name, dtype, tp, pp, ep, adp):
    model, hardware = load_model(model_name), load_hardware(hardware_name)
    pricer, _ = build_pricer(model, hardware, dtype=dtype, kv_dtype=dtype, tp=tp, pp=pp, params=PARAMS,
                             max_tokens=9000, ep=ep, adp=adp)
    rng = np.random.default_rng(7)
    for _ in range(300):
        decode = int(rng.integers(0, 512))
        prefill = int(rng.integers(0, 8192))
        ending = int(rng.integers(0, 4))
        sequences = decode + ending + int(rng.integers(0, 3))
        decode_pairs = float(decode * rng.uniform(0, 8000) * model.num_layers)
        prefill_pairs = float(rng.uniform(0, 1e9))
        fast = pricer.step_s(decode, prefill, ending, decode_pairs, prefill_pairs, sequences)
        m = max(1, min(pp, sequences))

        def arr(x):
            return np.array([x / m])

        work = timing.StageWork(decode_tokens=arr(decode), prefill_tokens=arr(prefill), prefill_sequences=arr(ending),
                                decode_attention_flops=arr(decode_pairs * pricer.flops_per_pair),
                                decode_kv_read_bytes=arr(decode_pairs * pricer.kv_bytes_per_pair),
                                prefill_attention_flops=arr(prefill_pairs * pricer.flops_per_pair),
                                prefill_prompts=arr(max(sequences - decode, ending) if prefill else 0.0))
        # The reference with the parameters the device is priced with (RNGD's own fit: CostParams.for_hardware).
        exact = float(timing.pass_latency_s(pricer.rows, PARAMS.for_hardware(hardware_name), work)[0])
        assert fast == pytest.approx(exact, rel=1e-3)


def test_fast_path_also_exact_with_a_curved_roofline():
    params = PARAMS.with_values(roofline_sharpness=3.0)
    pricer, _ = build_pricer(load_model("llama-3.1-8b"), load_hardware("h100-sxm"), dtype="bf16", kv_dtype="bf16",
                             tp=1, pp=1, params=params, max_tokens=4096)
    assert not pricer.linear
    for decode, prefill in ((1, 0), (64, 0), (16, 2048), (256, 512)):
        pairs = decode * 3000.0 * 32
        assert pricer.step_s(decode, prefill, 1, pairs, 1e7, decode + 1) == pytest.approx(
            pricer.exact_s(decode, prefill, 1, pairs, 1e7, decode + 1), rel=1e-9)


def test_stage_work_defaults_are_the_rows_mean_contexts():
    """Explicit fields equal to the rows' per-token means give the very same seconds as leaving them out."""
    model, hardware = load_model("llama-3.1-70b"), load_hardware("h100-sxm")
    rows = layout_rows(model, hardware, dtype="fp8", kv_dtype="fp8", tp=4, pp=2, input_len=2000, output_len=500,
                       params=PARAMS)
    d, p, s = np.array([37.0]), np.array([900.0]), np.array([0.45])
    default = timing.StageWork(decode_tokens=d, prefill_tokens=p, prefill_sequences=s)
    explicit = timing.StageWork(decode_tokens=d, prefill_tokens=p, prefill_sequences=s,
                                decode_attention_flops=rows.attention_decode_flops * d,
                                decode_kv_read_bytes=rows.kv_read_bytes * d,
                                prefill_attention_flops=rows.attention_prefill_flops * s)
    assert timing.pass_latency_s(rows, PARAMS, explicit)[0] == timing.pass_latency_s(rows, PARAMS, default)[0]
    longer = timing.StageWork(decode_tokens=d, prefill_tokens=p, prefill_sequences=s,
                              decode_attention_flops=rows.attention_decode_flops * d * 4,
                              decode_kv_read_bytes=rows.kv_read_bytes * d * 4)
    assert timing.pass_latency_s(rows, PARAMS, longer)[0] > timing.pass_latency_s(rows, PARAMS, default)[0]


def test_attended_pairs_of_a_whole_prompt_match_the_cost_models_causal_half_square():
    att = Attention(full_layers=80, window_layers=0, window=0)
    assert att.prefill_pairs(0, 2000) == 80 * 2000 ** 2 / 2
    # Chunks add up to the whole prompt.
    assert att.prefill_pairs(0, 512) + att.prefill_pairs(512, 2000) == att.prefill_pairs(0, 2000)
    windowed = Attention(full_layers=2, window_layers=2, window=128)
    assert windowed.pairs(1000) == 2 * 1000 + 2 * 128
    assert windowed.prefill_pairs(0, 100) + windowed.prefill_pairs(100, 1000) == pytest.approx(
        windowed.prefill_pairs(0, 1000))


def test_windows_only_where_the_runtime_caps_them():
    model = load_model("gpt-oss-20b")
    assert attention_of(model, load_hardware("rngd"), PARAMS).window_layers > 0  # sliding_window_kv rngd: 1
    assert attention_of(model, load_hardware("h100-sxm"), PARAMS).window_layers == 0  # default: 0
