"""Memory per device, term by term, against hand calculations on a tiny model."""
from __future__ import annotations

import numpy as np
import pytest

from autotune.specs.candidates import devices_used as rules_devices_used
from autotune.specs.hardware import HardwareSpec, LinkSpec
from autotune.specs.model import ModelSpec
from cost_models import memory
from cost_models.inputs import build_inputs
from cost_models.params import load_params

PARAMS = load_params()


def tiny_model(*, layers: int = 4, kv_heads: int = 2, tied: bool = False) -> ModelSpec:
    """Returns a 4-layer model with round numbers: hidden 64, 4 heads of 16, FFN 128, vocab 1000."""
    hidden, heads, head_dim, ffn, vocab = 64, 4, 16, 128, 1000
    kv_proj = 2 * hidden * kv_heads * head_dim
    layer = hidden * heads * head_dim * 2 + kv_proj + 3 * hidden * ffn + 2 * hidden
    return ModelSpec(
        name="tiny", hf_id=None, model_type="llama", num_layers=layers, hidden_size=hidden,
        intermediate_size=ffn, num_attention_heads=heads, num_key_value_heads=kv_heads, head_dim=head_dim,
        vocab_size=vocab, max_position_embeddings=4096, tie_word_embeddings=tied,
        embedding_params=vocab * hidden, final_params=hidden + (0 if tied else vocab * hidden),
        layer_params=(layer,) * layers, layer_active_params=(layer,) * layers,
        kv_cache_elements_per_token_per_layer=2 * kv_heads * head_dim)


def device(units: int = 1, capacity: float = 1e9) -> HardwareSpec:
    link = LinkSpec(name="NVLink test", bandwidth_bytes_per_s=1e11, latency_s=1e-6)
    return HardwareSpec(
        name="test-device", description="test", memory_capacity_bytes=capacity, memory_bandwidth_bytes_per_s=1e12,
        peak_tflops={"bf16": 100.0}, compute_units_per_device=units, intra_device_link=link if units > 1 else None,
        inter_device_link=link, inter_node_link=link, devices_per_node=8, power_w=100.0, default_space="gpu",
        sources={})


def rows(model: ModelSpec, hardware: HardwareSpec, *, tp=1, pp=1, dp=1, batch=1, input_len=100, output_len=28):
    one = np.ones(1)
    return build_inputs(model, hardware, input_len=input_len, output_len=output_len, dtype="bf16", kv_dtype="bf16",
                        tp=one * tp, pp=one * pp, dp=one * dp, batch=one * batch, params=PARAMS)


def test_weights_split_by_tp_with_kv_projections_replicated_below_one_head():
    model = tiny_model(kv_heads=2)
    kv_proj = 2 * 64 * 2 * 16                     # K and V projections of one layer
    layer = model.layer_params[0]
    # TP 4 > 2 KV heads: the K/V projections split only 2 ways.
    per_unit = 4 * ((layer - kv_proj) / 4 + kv_proj / 2) + (model.embedding_params + model.final_params) / 4
    got = memory.weights_bytes(rows(model, device(), tp=4))[0]
    assert got == pytest.approx(per_unit * 2.0)   # bf16: 2 bytes per parameter


def test_weights_pipeline_stage_holds_its_layers_and_the_larger_boundary():
    model = tiny_model(layers=4, tied=True)
    layer = model.layer_params[0]
    # PP 2: 2 layers per stage; tied embeddings: the last stage holds a copy for the LM head.
    last = 2 * layer + model.final_params + model.lm_head_params
    first = 2 * layer + model.embedding_params
    got = memory.weights_bytes(rows(model, device(), pp=2))[0]
    assert got == pytest.approx(max(first, last) * 2.0)
    assert last > first


def test_kv_cache_is_batch_times_context_times_bytes_per_token_sharded_by_tp():
    model = tiny_model(kv_heads=2)
    per_token = 4 * 2 * 2 * 16 * 2.0              # layers x (K, V) x kv_heads x head_dim x 2 bytes
    got = memory.kv_cache_bytes(rows(model, device(), tp=2, batch=3, input_len=100, output_len=28))[0]
    assert got == pytest.approx(3 * 128 * per_token / 2)
    # TP 4 with 2 KV heads: still one head per unit, so no further split.
    got4 = memory.kv_cache_bytes(rows(model, device(), tp=4, batch=3, input_len=100, output_len=28))[0]
    assert got4 == pytest.approx(got)


def test_rngd_replicas_on_one_card_share_weights_but_not_kv():
    model = tiny_model()
    card = device(units=8)
    one = rows(model, card, tp=4, dp=1, batch=2)
    two = rows(model, card, tp=4, dp=2, batch=2)
    assert memory.weights_bytes(two)[0] == pytest.approx(memory.weights_bytes(one)[0])
    assert memory.kv_cache_bytes(two)[0] == pytest.approx(2 * memory.kv_cache_bytes(one)[0])
    # A TP group of 4 PEs holds the whole stage on its card once: the PEs share the card's HBM,
    # so K/V projections that two PEs use (2 KV heads for 4 PEs) are not stored twice.
    full = rows(model, device(units=1), tp=1)
    assert memory.weights_bytes(one)[0] == pytest.approx(memory.weights_bytes(full)[0])


def test_rngd_kv_heads_split_per_card_not_per_pe():
    # TP 16 over 2 cards with 2 KV heads: each card stores one head, half the KV cache; a GPU
    # TP 16 with 2 KV heads stores one head per GPU as well (split 2 ways, replicated beyond).
    model = tiny_model(kv_heads=2)
    whole = memory.kv_cache_bytes(rows(model, device(units=8), tp=8, batch=1))[0]
    split = memory.kv_cache_bytes(rows(model, device(units=8), tp=16, batch=1))[0]
    assert split == pytest.approx(whole / 2)
    gpu = memory.kv_cache_bytes(rows(model, device(units=1), tp=16, batch=1))[0]
    assert gpu == pytest.approx(whole / 2)


def test_max_batch_is_the_largest_batch_that_fits():
    model = tiny_model()
    card = device(capacity=5e9)
    base = rows(model, card, batch=1)
    largest = int(memory.max_batch(base, PARAMS)[0])
    assert largest >= 1
    fits = rows(model, card, batch=min(largest, PARAMS.max_batch_per_replica))
    total = (memory.weights_bytes(fits) + memory.kv_cache_bytes(fits) + memory.activation_bytes(fits, PARAMS)
             + memory.reserved_bytes(fits, PARAMS))[0]
    assert total <= card.memory_capacity_bytes


def test_max_batch_is_zero_when_weights_do_not_fit():
    model = tiny_model()
    small = device(capacity=1e6)
    assert memory.max_batch(rows(model, small), PARAMS)[0] == 0


@pytest.mark.parametrize("units", [1, 8])
def test_device_count_matches_the_rules_module(units):
    grid = [(tp, pp, dp) for tp in (1, 2, 4, 8, 16) for pp in (1, 2, 3) for dp in (1, 2, 3, 5)]
    tp, pp, dp = (np.array(v) for v in zip(*grid))
    model = tiny_model()
    hardware = device(units=units)
    inputs = build_inputs(model, hardware, input_len=10, output_len=10, dtype="bf16", kv_dtype="bf16",
                          tp=tp, pp=pp, dp=dp, batch=np.ones(len(tp)), params=PARAMS)
    assert np.array_equal(memory.devices_used(inputs).astype(int), rules_devices_used(hardware, tp, pp, dp))
