"""Tensor accounting and attention layouts of exaone, exaone4, exaone_moe, gemma3, llama4 and solar_open.

Small synthetic configs: each test changes one thing the parser must honour and checks the
count (or per-layer flag) moves by exactly what the transformers module stores.
"""
from __future__ import annotations

import math

import pytest

from autotune.errors import InputError
from autotune.specs.architectures import SUPPORTED_MODEL_TYPES, model_spec_from_config
from cost_models.inputs import _model_facts

H, FFN, L, HEADS, KV, V = 64, 160, 8, 8, 2, 1000
HD = H // HEADS
ATTN = H * HEADS * HD + 2 * H * KV * HD + HEADS * HD * H
MLP = 3 * H * FFN


def _spec(config: dict):
    return model_spec_from_config(config, source="test")


def _dense(model_type: str, **extra) -> dict:
    return {"model_type": model_type, "hidden_size": H, "intermediate_size": FFN, "num_hidden_layers": L,
            "num_attention_heads": HEADS, "num_key_value_heads": KV, "vocab_size": V,
            "tie_word_embeddings": False, **extra}


def test_new_types_are_registered() -> None:
    for model_type in ("exaone", "exaone4", "exaone_moe", "gemma3", "gemma3_text", "llama4", "llama4_text",
                       "solar_open"):
        assert model_type in SUPPORTED_MODEL_TYPES


# ---------------------------------------------------------------------------------------
# exaone (EXAONE 3.x): the Llama layout under EXAONE's key names


def _exaone(**extra) -> dict:
    config = _dense("exaone", **extra)
    config["num_layers"] = config.pop("num_hidden_layers")
    config["activation_function"] = "silu"
    return config


def test_exaone_reads_num_layers_and_counts_like_llama() -> None:
    exaone, llama = _spec(_exaone()), _spec(_dense("llama"))
    assert exaone.model_type == "exaone"
    assert exaone.num_layers == L
    assert exaone.layer_params == (ATTN + MLP + 2 * H,) * L
    assert exaone.total_params == llama.total_params


def test_exaone_defaults_max_positions_to_4096() -> None:
    # ExaoneConfig: max_position_embeddings = 4096 (LlamaConfig's is 2048).
    assert _spec(_exaone()).max_position_embeddings == 4096
    assert _spec(_exaone(max_position_embeddings=32768)).max_position_embeddings == 32768


def test_exaone_without_layer_count_names_num_layers() -> None:
    config = _exaone()
    del config["num_layers"]
    with pytest.raises(InputError, match="num_layers.; expected a required integer"):
        _spec(config)


# ---------------------------------------------------------------------------------------
# exaone4 (EXAONE 4.0): QK-Reorder-Norm and hybrid attention


def _exaone4(**extra) -> dict:
    return _dense("exaone4", head_dim=HD, **extra)


def test_exaone4_layer_has_post_norms_and_qk_norms() -> None:
    spec = _spec(_exaone4(sliding_window=None))
    assert spec.layer_params == (ATTN + MLP + 2 * H + 2 * HD,) * L
    assert spec.sliding_layers == ()


def test_exaone4_string_pattern_cycles_and_keeps_last_layer_global() -> None:
    spec = _spec(_exaone4(sliding_window=16, sliding_window_pattern="LLLG"))
    assert spec.sliding_layers == (True, True, True, False) * 2
    odd = _spec(_exaone4(sliding_window=16, sliding_window_pattern="LLL"))
    assert odd.sliding_layers == (True,) * (L - 1) + (False,)


def test_exaone4_integer_pattern_and_explicit_layer_types() -> None:
    every_fourth = _spec(_exaone4(sliding_window=16, sliding_window_pattern=4))
    assert every_fourth.sliding_layers == (True, True, True, False) * 2
    default = _spec(_exaone4(sliding_window=16))
    assert default.sliding_layers == every_fourth.sliding_layers
    types = ["full_attention", "sliding_attention"] * (L // 2)
    explicit = _spec(_exaone4(sliding_window=16, sliding_window_pattern="LLLG", layer_types=types))
    assert explicit.sliding_layers == (False, True) * (L // 2)


def test_exaone4_bad_pattern_is_an_input_error() -> None:
    with pytest.raises(InputError, match="sliding_window_pattern"):
        _spec(_exaone4(sliding_window=16, sliding_window_pattern="LXG"))


def test_exaone4_kv_of_local_layers_is_capped_at_the_window() -> None:
    spec = _spec(_exaone4(sliding_window=16, sliding_window_pattern="LLLG"))
    per_layer_token = 2 * KV * HD * 2  # bf16
    context = 1000
    # 6 local layers hold 16 tokens, 2 global layers the whole context.
    assert spec.kv_cache_bytes(context) == (6 * 16 + 2 * context) * per_layer_token
    assert spec.kv_cache_bytes(8) == L * 8 * per_layer_token


# ---------------------------------------------------------------------------------------
# exaone_moe (K-EXAONE)


def _exaone_moe(**extra) -> dict:
    return _dense("exaone_moe", head_dim=HD, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=24,
                  num_shared_experts=1, sliding_window=16, sliding_window_pattern="LLLG", **extra)


def test_exaone_moe_first_layer_dense_then_experts_with_shared_and_router_bias() -> None:
    spec = _spec(_exaone_moe())
    base = ATTN + 2 * H + 2 * HD  # attention, input and post-attention norms, q/k norms
    expert = 3 * H * 24
    router = 4 * H + 4  # weight and e_score_correction_bias
    assert spec.layer_params[0] == base + MLP
    assert spec.layer_params[1] == base + router + 4 * expert + expert
    assert spec.layer_active_params[1] == base + router + 2 * expert + expert
    assert spec.moe_layers == (False,) + (True,) * (L - 1)
    assert spec.num_shared_experts == 1


def test_exaone_moe_layer_lists_override_first_k_dense() -> None:
    flags = [True, False] * (L // 2)
    by_list = _spec(_exaone_moe(is_moe_layer=flags))
    assert by_list.moe_layers == tuple(flags)
    kinds = ["sparse" if flag else "dense" for flag in flags]
    assert _spec(_exaone_moe(mlp_layer_types=kinds, is_moe_layer=[True] * L)).moe_layers == tuple(flags)
    with pytest.raises(InputError, match="is_moe_layer"):
        _spec(_exaone_moe(is_moe_layer=[True]))


# ---------------------------------------------------------------------------------------
# gemma3: the multimodal wrapper

VISION = {"hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4,
          "image_size": 28, "patch_size": 14, "vision_use_head": False, "model_type": "siglip_vision_model"}


def _siglip(hidden: int, width: int, layers: int, patches: int, channels: int = 3, patch: int = 14) -> int:
    embeddings = channels * patch * patch * hidden + hidden + patches * hidden
    layer = 2 * 2 * hidden + 4 * (hidden * hidden + hidden) + (hidden * width + width) + (width * hidden + hidden)
    return embeddings + layers * layer + 2 * hidden


def _gemma3(**vision) -> dict:
    return {"model_type": "gemma3", "text_config": {"hidden_size": H, "intermediate_size": FFN,
                                                    "num_hidden_layers": 6, "num_attention_heads": HEADS,
                                                    "num_key_value_heads": KV, "head_dim": HD, "vocab_size": V,
                                                    "sliding_window": 16},
            "vision_config": {**VISION, **vision}}


def test_gemma3_wrapper_counts_text_model_and_vision_tower_apart() -> None:
    spec = _spec(_gemma3())
    text = _spec({**_gemma3()["text_config"], "model_type": "gemma3_text"})
    tower = _siglip(32, 48, 2, (28 // 14) ** 2)
    projector = 32 * H + 32  # mm_input_projection_weight and mm_soft_emb_norm
    assert spec.model_type == "gemma3"
    assert spec.vision_params == tower + projector
    assert spec.total_params == text.total_params + tower + projector
    assert spec.active_params == text.active_params  # a text token never runs the vision tower
    assert spec.tie_word_embeddings  # Gemma3Config ties by default
    # Gemma 3: every sixth layer global, window 16 on the others.
    assert spec.sliding_window == 16 and spec.sliding_layers == (True,) * 5 + (False,)


def test_gemma3_vision_head_and_defaults() -> None:
    with_head = _spec(_gemma3(vision_use_head=True)).vision_params
    without = _spec(_gemma3()).vision_params
    hidden, width = 32, 48
    head = (hidden + 3 * hidden * hidden + 3 * hidden + hidden * hidden + hidden + 2 * hidden
            + hidden * width + width + width * hidden + hidden)
    assert with_head - without == head
    bare = _gemma3()
    del bare["vision_config"]
    assert _spec(bare).vision_params == 0


def test_gemma3_without_text_config_is_an_input_error() -> None:
    with pytest.raises(InputError, match="text_config"):
        _spec({"model_type": "gemma3"})


def test_vision_weights_are_in_memory_and_weight_bytes() -> None:
    spec = _spec(_gemma3())
    assert spec.weight_bytes("bf16") == 2 * spec.total_params
    facts = _model_facts(spec, 128, 16, "bf16", True)
    assert facts["embedding_params"] == spec.embedding_params + spec.vision_params
    assert spec.to_dict()["vision_params"] == spec.vision_params


# ---------------------------------------------------------------------------------------
# llama4


def _llama4_text(**extra) -> dict:
    return {"model_type": "llama4_text", "hidden_size": H, "intermediate_size": 24, "intermediate_size_mlp": FFN,
            "num_hidden_layers": L, "num_attention_heads": HEADS, "num_key_value_heads": KV, "head_dim": HD,
            "vocab_size": V, "num_local_experts": 4, "num_experts_per_tok": 1, "attention_chunk_size": 16,
            **extra}


def test_llama4_interleaves_moe_and_dense_layers_with_a_shared_expert() -> None:
    spec = _spec(_llama4_text(interleave_moe_layer_step=2))
    expert = 3 * H * 24
    moe = ATTN + 2 * H + 4 * H + 4 * expert + expert
    dense = ATTN + 2 * H + MLP
    assert spec.moe_layers == (False, True) * (L // 2)
    assert spec.layer_params == (dense, moe) * (L // 2)
    assert spec.layer_active_params[1] == ATTN + 2 * H + 4 * H + expert + expert
    assert spec.num_shared_experts == 1
    every = _spec(_llama4_text())
    assert every.moe_layers == (True,) * L
    assert _spec(_llama4_text(moe_layers=[0, 5])).moe_layers == tuple(i in (0, 5) for i in range(L))


def test_llama4_chunked_layers_and_kv_cap() -> None:
    spec = _spec(_llama4_text())
    # Default no_rope_layer_interval 4: every fourth layer is NoPE and global, the rest chunked.
    assert spec.sliding_window == 16
    assert spec.sliding_layers == (True, True, True, False) * 2
    per_layer_token = 2 * KV * HD * 2
    assert spec.kv_cache_bytes(1000) == (6 * 16 + 2 * 1000) * per_layer_token
    explicit = _spec(_llama4_text(no_rope_layers=[1, 0] * (L // 2)))
    assert explicit.sliding_layers == (True, False) * (L // 2)
    off = _spec(_llama4_text(attention_chunk_size=None))
    assert off.sliding_layers == () and off.sliding_window is None


def test_llama4_wrapper_counts_vision_model_and_projector() -> None:
    vision = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
              "image_size": 28, "patch_size": 14, "projector_input_dim": 16, "projector_output_dim": 16,
              "vision_output_dim": 16}
    text = _llama4_text()
    spec = _spec({"model_type": "llama4", "text_config": text, "vision_config": vision})
    hidden, width = 32, 64
    embeddings = 3 * 14 * 14 * hidden + hidden + (4 + 1) * hidden + 2 * 2 * hidden
    layer = 4 * (hidden * hidden + hidden) + (hidden * width + width) + (width * hidden + hidden) + 2 * 2 * hidden
    adapter = width * 16 + 16 * 16
    projector = 16 * H
    assert spec.vision_params == embeddings + 2 * layer + adapter + projector
    assert spec.total_params == _spec(text).total_params + spec.vision_params
    assert spec.model_type == "llama4"


# ---------------------------------------------------------------------------------------
# solar_open


def test_solar_open_every_layer_is_moe_with_shared_expert_and_router_bias() -> None:
    config = {"model_type": "solar_open", "hidden_size": H, "num_hidden_layers": 2, "num_attention_heads": HEADS,
              "num_key_value_heads": KV, "head_dim": HD, "vocab_size": V, "intermediate_size": 999,
              "moe_intermediate_size": 24, "n_routed_experts": 4, "n_shared_experts": 1, "num_experts_per_tok": 2,
              "first_k_dense_replace": 1}
    spec = _spec(config)
    expert = 3 * H * 24
    layer = ATTN + 2 * H + (4 * H + 4) + 4 * expert + expert
    assert spec.layer_params == (layer, layer)  # first_k_dense_replace does not make a dense layer
    assert spec.layer_active_params[0] == ATTN + 2 * H + (4 * H + 4) + 2 * expert + expert
    # intermediate_size sizes no tensor but is the activation width (default: top-k x expert width).
    assert spec.intermediate_size == 999
    assert _spec({k: v for k, v in config.items() if k != "intermediate_size"}).intermediate_size == 2 * 24
    biased = _spec({**config, "attention_bias": True})
    assert biased.layer_params[0] - layer == HEADS * HD + 2 * KV * HD  # q/k/v biases, never o_proj


def test_solar_open_head_dim_defaults_to_128() -> None:
    spec = _spec({"model_type": "solar_open", "hidden_size": 256, "num_hidden_layers": 1, "num_attention_heads": 4,
                  "num_key_value_heads": 2, "vocab_size": 10, "n_routed_experts": 2, "num_experts_per_tok": 1,
                  "moe_intermediate_size": 8})
    assert spec.head_dim == 128
    assert math.isclose(spec.kv_cache_elements_per_token_per_layer, 2 * 2 * 128)
