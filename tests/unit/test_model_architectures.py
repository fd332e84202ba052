"""Per-family tensor accounting: each difference between families changes the count it should."""
from __future__ import annotations

import pytest

from autotune.specs.architectures import model_spec_from_config
from autotune.specs.model_loader import load_model

H, FFN, L, HEADS, KV, V = 64, 160, 4, 8, 2, 1000
HEAD_DIM = H // HEADS


def _base(model_type: str, **extra) -> dict:
    return {"model_type": model_type, "hidden_size": H, "intermediate_size": FFN, "num_hidden_layers": L,
            "num_attention_heads": HEADS, "num_key_value_heads": KV, "vocab_size": V,
            "tie_word_embeddings": False, **extra}


def _spec(config: dict):
    return model_spec_from_config(config, source="test")


def _llama_layer() -> int:
    attention = H * HEADS * HEAD_DIM + 2 * H * KV * HEAD_DIM + HEADS * HEAD_DIM * H
    return attention + 3 * H * FFN + 2 * H


def test_llama_layer_embedding_and_head() -> None:
    spec = _spec(_base("llama"))
    assert spec.layer_params == (_llama_layer(),) * L
    assert spec.embedding_params == V * H
    assert spec.final_params == H + V * H
    assert spec.total_params == V * H + L * _llama_layer() + H + V * H
    assert spec.kv_cache_elements_per_token_per_layer == 2 * KV * HEAD_DIM


def test_tied_embeddings_are_counted_once() -> None:
    untied, tied = _spec(_base("llama")), _spec(_base("llama", tie_word_embeddings=True))
    assert untied.total_params - tied.total_params == V * H
    assert tied.final_params == H


def test_llama_attention_and_mlp_bias() -> None:
    plain = _spec(_base("llama")).layer_params[0]
    attn = _spec(_base("llama", attention_bias=True)).layer_params[0]
    mlp = _spec(_base("llama", mlp_bias=True)).layer_params[0]
    assert attn - plain == HEADS * HEAD_DIM + 2 * KV * HEAD_DIM + H  # q, k, v and o biases
    assert mlp - plain == 2 * FFN + H


def test_qwen2_has_qkv_bias_but_no_o_bias() -> None:
    assert _spec(_base("qwen2")).layer_params[0] - _llama_layer() == HEADS * HEAD_DIM + 2 * KV * HEAD_DIM


def test_qwen3_has_q_and_k_norms() -> None:
    assert _spec(_base("qwen3", head_dim=16)).head_dim == 16
    assert _spec(_base("qwen3")).layer_params[0] - _llama_layer() == 2 * HEAD_DIM


def test_gemma2_has_four_norms_and_is_tied() -> None:
    gemma = _spec({k: v for k, v in _base("gemma").items() if k != "tie_word_embeddings"})
    gemma2 = _spec({k: v for k, v in _base("gemma2").items() if k != "tie_word_embeddings"})
    assert gemma.tie_word_embeddings and gemma2.tie_word_embeddings
    assert gemma2.layer_params[0] - gemma.layer_params[0] == 2 * H
    assert gemma.final_params == H


def test_explicit_head_dim_overrides_hidden_over_heads() -> None:
    spec = _spec(_base("gemma", head_dim=32))
    assert spec.head_dim == 32
    assert spec.kv_cache_elements_per_token_per_layer == 2 * KV * 32


def test_phi3_fused_projections_count_like_separate_ones() -> None:
    assert _spec(_base("phi3")).layer_params[0] == _llama_layer()


def test_mixtral_total_and_active() -> None:
    spec = _spec(_base("mixtral", num_local_experts=4, num_experts_per_tok=2))
    expert = 3 * H * FFN
    attention_norms = _llama_layer() - expert
    assert spec.layer_params[0] == attention_norms + 4 * expert + H * 4
    assert spec.layer_active_params[0] == attention_norms + 2 * expert + H * 4
    assert (spec.num_experts, spec.experts_per_token, spec.expert_params) == (4, 2, expert)
    assert spec.moe_layers == (True,) * L
    assert spec.moe_intermediate_size == FFN


def test_qwen2_moe_shared_expert_gate_and_sparse_step() -> None:
    config = _base("qwen2_moe", num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32,
                   shared_expert_intermediate_size=96, decoder_sparse_step=2, mlp_only_layers=[3])
    spec = _spec(config)
    # Layer i is sparse when (i + 1) % 2 == 0 and i not in mlp_only_layers: only layer 1.
    assert spec.moe_layers == (False, True, False, False)
    dense_layer = spec.layer_params[0]
    sparse_ffn = H * 4 + 4 * 3 * H * 32 + 3 * H * 96 + H
    assert spec.layer_params[1] - dense_layer == sparse_ffn - 3 * H * FFN
    assert spec.layer_active_params[1] - spec.layer_params[1] == -2 * 3 * H * 32
    assert spec.num_shared_experts == 1


def test_qwen3_moe_has_no_shared_expert() -> None:
    spec = _spec(_base("qwen3_moe", num_experts=4, num_experts_per_tok=1, moe_intermediate_size=32))
    assert spec.num_shared_experts == 0
    assert spec.layer_params[0] - spec.layer_active_params[0] == 3 * 3 * H * 32


def _deepseek(**extra) -> dict:
    shape = dict(num_key_value_heads=HEADS, q_lora_rank=24, kv_lora_rank=16, qk_nope_head_dim=8,
                 qk_rope_head_dim=4, v_head_dim=8, n_routed_experts=4, num_experts_per_tok=2,
                 moe_intermediate_size=32, n_shared_experts=1, first_k_dense_replace=1, moe_layer_freq=1)
    return _base("deepseek_v3", **{**shape, **extra})


def test_deepseek_mla_dense_prefix_and_correction_bias() -> None:
    spec = _spec(_deepseek())
    mla = (H * 24 + 24 + 24 * HEADS * 12) + (H * (16 + 4) + 16 + 16 * HEADS * (8 + 8)) + HEADS * 8 * H
    dense = mla + 2 * H + 3 * H * FFN
    moe = mla + 2 * H + (4 * H + 4) + 4 * 3 * H * 32 + 3 * H * 32
    assert spec.layer_params == (dense, moe, moe, moe)
    assert spec.moe_layers == (False, True, True, True)
    assert spec.kv_cache_elements_per_token_per_layer == 16 + 4
    assert not spec.kv_cache_shardable
    assert (spec.qk_head_dim, spec.v_head_dim) == (12, 8)


def test_deepseek_v2_lite_style_has_no_q_lora_and_no_correction_bias() -> None:
    v3 = _spec(_deepseek())
    v2 = _spec({**_deepseek(), "model_type": "deepseek_v2", "q_lora_rank": None})
    q_lora = H * 24 + 24 + 24 * HEADS * 12
    assert v3.layer_params[0] - v2.layer_params[0] == q_lora - H * HEADS * 12
    assert v3.layer_params[1] - v2.layer_params[1] == q_lora - H * HEADS * 12 + 4


def test_deepseek_moe_layer_frequency() -> None:
    spec = _spec(_deepseek(moe_layer_freq=2, first_k_dense_replace=0))
    assert spec.moe_layers == (True, False, True, False)


def test_deepseek_v3_excludes_mtp_layers() -> None:
    with_mtp = _spec(_deepseek(num_nextn_predict_layers=1))
    assert with_mtp.total_params == _spec(_deepseek()).total_params


def test_gptj_lm_head_bias_and_layernorm_biases() -> None:
    config = {"model_type": "gptj", "n_embd": H, "n_layer": L, "n_head": HEADS, "vocab_size": V, "n_positions": 2048}
    spec = _spec(config)
    layer = 2 * H + 4 * H * H + (H * 4 * H + 4 * H) + (4 * H * H + H)
    assert spec.layer_params == (layer,) * L
    assert spec.final_params == 2 * H + V * H + V
    assert spec.intermediate_size == 4 * H


def test_gpt_neox_biases_follow_attention_bias() -> None:
    config = {"model_type": "gpt_neox", "hidden_size": H, "num_hidden_layers": L, "num_attention_heads": HEADS,
              "intermediate_size": FFN, "vocab_size": V}
    with_bias = _spec(config).layer_params[0]
    without = _spec({**config, "attention_bias": False}).layer_params[0]
    assert with_bias - without == 3 * H + H


@pytest.mark.parametrize(("extra", "kv_heads", "norms"), [
    ({"multi_query": True, "parallel_attn": True}, 1, 1),            # Falcon-7B
    ({"multi_query": False, "parallel_attn": False}, HEADS, 2),      # Falcon-RW style
    ({"new_decoder_architecture": True, "num_kv_heads": 2}, 2, 2),   # Falcon-40B / 180B
    ({"new_decoder_architecture": True, "num_kv_heads": 2, "num_ln_in_parallel_attn": 1}, 2, 1),
])
def test_falcon_variants(extra: dict, kv_heads: int, norms: int) -> None:
    config = {"model_type": "falcon", "hidden_size": H, "num_hidden_layers": L, "num_attention_heads": HEADS,
              "vocab_size": V, **extra}
    spec = _spec(config)
    assert spec.num_key_value_heads == kv_heads
    layer = norms * 2 * H + H * (HEADS + 2 * kv_heads) * HEAD_DIM + H * H + 2 * H * 4 * H
    assert spec.layer_params == (layer,) * L
    assert spec.kv_cache_elements_per_token_per_layer == 2 * kv_heads * HEAD_DIM


def test_falcon_bias_and_refinedweb_names() -> None:
    base = {"hidden_size": H, "n_layer": L, "n_head": HEADS, "vocab_size": V, "parallel_attn": True}
    old_40b = _spec({**base, "model_type": "RefinedWeb", "n_head_kv": 2})
    assert old_40b.model_type == "falcon"
    assert old_40b.num_key_value_heads == 2
    old_7b = _spec({**base, "model_type": "RefinedWebModel", "multi_query": True})
    assert old_7b.num_key_value_heads == 1
    biased = _spec({**base, "model_type": "falcon", "bias": True})
    plain = _spec({**base, "model_type": "falcon"})
    assert biased.layer_params[0] - plain.layer_params[0] == (HEADS + 2) * HEAD_DIM + H + 4 * H + H


def test_falcon_head_tied_unless_explicitly_untied() -> None:
    # FalconForCausalLM ties lm_head.weight (transformers _tied_weights_keys); vLLM defaults a missing
    # tie_word_embeddings to True for Falcon. Only an explicit false (Falcon-11B) adds a head of its own.
    base = {"model_type": "falcon", "hidden_size": H, "num_hidden_layers": L, "num_attention_heads": HEADS,
            "vocab_size": V}
    assert _spec(base).final_params == 2 * H
    assert _spec(base).tie_word_embeddings is True
    assert _spec({**base, "tie_word_embeddings": False}).final_params == 2 * H + V * H


def test_opt_positions_projections_and_final_norm() -> None:
    base = {"model_type": "opt", "hidden_size": H, "num_hidden_layers": L, "num_attention_heads": HEADS,
            "ffn_dim": FFN, "vocab_size": V, "max_position_embeddings": 100}
    spec = _spec(base)
    assert spec.embedding_params == V * H + 102 * H
    assert spec.final_params == 2 * H  # tied head, final LayerNorm
    projected = _spec({**base, "word_embed_proj_dim": 16, "do_layer_norm_before": False})
    assert projected.embedding_params == V * 16 + 102 * H + 16 * H
    assert projected.final_params == H * 16  # project_out, no final LayerNorm
    assert projected.lm_head_params == V * 16 and spec.lm_head_params == V * H


# --- sliding windows and the KV cache ---------------------------------------------------------


def test_mistral_window_applies_to_every_layer() -> None:
    spec = load_model("mistral-7b-v0.1")
    assert spec.sliding_window == 4096
    assert spec.sliding_layers == (True,) * 32
    assert spec.attended_tokens(10_000) == 32 * 4096


def test_gemma2_alternates_local_and_global_layers() -> None:
    spec = load_model("gemma-2-9b")
    assert spec.sliding_window == 4096
    assert spec.sliding_layers[:4] == (True, False, True, False)
    assert sum(spec.sliding_layers) == 21
    assert spec.kv_cache_bytes(8192) == (21 * 4096 + 21 * 8192) * 2 * 8 * 256 * 2


def test_qwen2_window_only_with_use_sliding_window() -> None:
    assert load_model("qwen2.5-7b").sliding_layers == ()
    spec = _spec(_base("qwen2", use_sliding_window=True, sliding_window=128, max_window_layers=2))
    assert spec.sliding_layers == (False, False, True, True)
    assert spec.sliding_window == 128


def test_explicit_layer_types() -> None:
    types = ["sliding_attention", "full_attention", "full_attention", "sliding_attention"]
    spec = _spec(_base("gemma2", layer_types=types, sliding_window=64))
    assert spec.sliding_layers == (True, False, False, True)
    with pytest.raises(Exception, match="layer_types"):
        _spec(_base("gemma2", layer_types=types[:3]))


def test_phi3_window() -> None:
    spec = load_model("phi-3-mini-4k-instruct")
    assert spec.sliding_window == 2047 and all(spec.sliding_layers)


def test_models_without_window() -> None:
    for name in ("llama-3.1-8b", "mixtral-8x7b-v0.1", "deepseek-v3", "gpt-j-6b", "falcon-180b"):
        spec = load_model(name)
        assert spec.sliding_window is None and spec.sliding_layers == ()


@pytest.mark.parametrize(("name", "elements"), [
    ("llama-3.1-70b", 2 * 8 * 128),
    ("falcon-7b", 2 * 1 * 64),       # multi-query: one shared key/value head
    ("falcon-180b", 2 * 8 * 64),
    ("deepseek-v3", 512 + 64),       # MLA latent plus the shared rotary key
    ("gpt-j-6b", 2 * 16 * 256),
])
def test_kv_cache_elements(name: str, elements: int) -> None:
    assert load_model(name).kv_cache_elements_per_token_per_layer == elements


def test_flops_split_linear_and_attention() -> None:
    spec = load_model("llama-3.1-8b")
    facts = spec.to_dict(context_len=1024)["flops_per_token"]
    assert facts["decode_linear"] == 2 * (sum(spec.layer_active_params) + spec.lm_head_params)
    assert facts["decode_attention"] == 2 * 32 * (128 + 128) * 32 * 1024
    assert facts["prefill_attention"] * 2 == facts["decode_attention"]


def test_gemma3_text_norms_and_window_pattern() -> None:
    config = {k: v for k, v in _base("gemma3_text", sliding_window=32).items() if k != "tie_word_embeddings"}
    spec = _spec({**config, "num_hidden_layers": 12})
    gemma2 = _spec({**config, "model_type": "gemma2", "num_hidden_layers": 12})
    assert spec.layer_params[0] - gemma2.layer_params[0] == 2 * HEAD_DIM  # q_norm and k_norm
    # Every 6th layer is global (sliding_window_pattern 6), the others local.
    assert spec.sliding_layers == (True,) * 5 + (False,) + (True,) * 5 + (False,)
    assert spec.tie_word_embeddings
