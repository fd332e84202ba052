"""Invariants of the parameter accounting over random configs (hypothesis).

The reference here enumerates the checkpoint's tensors by name and shape, as a Hugging Face
state dict lists them, independently of the per-module formulas in autotune.specs.
"""
from __future__ import annotations

from math import prod

from hypothesis import given, settings
from hypothesis import strategies as st

from autotune.specs.architectures import model_spec_from_config


def _state_dict_shapes(c: dict) -> dict[str, tuple[int, ...]]:
    """Returns tensor name -> shape for a Llama-style checkpoint (llama, qwen2, qwen3, gemma2, mixtral)."""
    h, heads, kv, hd = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    t = c["model_type"]
    shapes = {"model.embed_tokens.weight": (c["vocab_size"], h), "model.norm.weight": (h,)}
    if not c["tie_word_embeddings"]:
        shapes["lm_head.weight"] = (c["vocab_size"], h)
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        shapes[p + "self_attn.q_proj.weight"] = (heads * hd, h)
        shapes[p + "self_attn.k_proj.weight"] = (kv * hd, h)
        shapes[p + "self_attn.v_proj.weight"] = (kv * hd, h)
        shapes[p + "self_attn.o_proj.weight"] = (h, heads * hd)
        if t == "qwen2":
            shapes[p + "self_attn.q_proj.bias"] = (heads * hd,)
            shapes[p + "self_attn.k_proj.bias"] = (kv * hd,)
            shapes[p + "self_attn.v_proj.bias"] = (kv * hd,)
        if t == "qwen3":
            shapes[p + "self_attn.q_norm.weight"] = (hd,)
            shapes[p + "self_attn.k_norm.weight"] = (hd,)
        norms = ["input_layernorm", "post_attention_layernorm"]
        if t == "gemma2":
            norms += ["pre_feedforward_layernorm", "post_feedforward_layernorm"]
        for norm in norms:
            shapes[p + norm + ".weight"] = (h,)
        if t == "mixtral":
            shapes[p + "block_sparse_moe.gate.weight"] = (c["num_local_experts"], h)
            for e in range(c["num_local_experts"]):
                q = f"{p}block_sparse_moe.experts.{e}."
                shapes[q + "w1.weight"] = (c["intermediate_size"], h)
                shapes[q + "w3.weight"] = (c["intermediate_size"], h)
                shapes[q + "w2.weight"] = (h, c["intermediate_size"])
        else:
            shapes[p + "mlp.gate_proj.weight"] = (c["intermediate_size"], h)
            shapes[p + "mlp.up_proj.weight"] = (c["intermediate_size"], h)
            shapes[p + "mlp.down_proj.weight"] = (h, c["intermediate_size"])
    return shapes


@st.composite
def llama_style_configs(draw) -> dict:
    model_type = draw(st.sampled_from(["llama", "qwen2", "qwen3", "gemma2", "mixtral"]))
    kv = draw(st.integers(1, 4))
    heads = kv * draw(st.integers(1, 4))
    head_dim = draw(st.sampled_from([4, 8, 16]))
    config = {
        "model_type": model_type,
        "num_attention_heads": heads,
        "num_key_value_heads": kv,
        "head_dim": head_dim,
        "hidden_size": draw(st.integers(8, 96)),
        "intermediate_size": draw(st.integers(1, 200)),
        "num_hidden_layers": draw(st.integers(1, 5)),
        "vocab_size": draw(st.integers(1, 500)),
        "tie_word_embeddings": draw(st.booleans()),
    }
    if model_type == "mixtral":
        config["num_local_experts"] = draw(st.integers(1, 6))
        config["num_experts_per_tok"] = draw(st.integers(1, config["num_local_experts"]))
    return config


@settings(max_examples=60, deadline=None)
@given(llama_style_configs())
def test_total_equals_the_checkpoint_tensors(config: dict) -> None:
    spec = model_spec_from_config(config, source="hypothesis")
    expected = sum(prod(shape) for shape in _state_dict_shapes(config).values())
    assert spec.total_params == expected


@settings(max_examples=60, deadline=None)
@given(llama_style_configs())
def test_active_parts_and_kv_invariants(config: dict) -> None:
    spec = model_spec_from_config(config, source="hypothesis")
    assert spec.total_params == spec.embedding_params + sum(spec.layer_params) + spec.final_params
    assert all(a <= t for a, t in zip(spec.layer_active_params, spec.layer_params))
    assert len(spec.layer_params) == spec.num_layers
    if config["model_type"] == "mixtral":
        unused = spec.num_experts - spec.experts_per_token
        assert spec.total_params - spec.active_params == spec.num_layers * unused * spec.expert_params
    else:
        assert spec.active_params == spec.total_params
    assert spec.kv_cache_bytes_per_token("fp8") * 2 == spec.kv_cache_bytes_per_token("bf16")
    assert spec.weight_bytes("int4") * 4 == spec.weight_bytes("bf16")
    for context in (1, 7, 5000):
        assert spec.attended_tokens(context) <= spec.num_layers * context
