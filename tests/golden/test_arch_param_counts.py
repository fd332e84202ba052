"""Golden parameter counts of the architectures FuriosaAI's releases serve: EXAONE 3.5 / 4.0, K-EXAONE,
Gemma 3, Llama 4 and Solar Open, against published totals (each test names its source).

"exact" figures are checkpoint parameter counts (the Hub's safetensors metadata, or
`sum(p.numel())` of the loaded model) and must match to the parameter. Model-card figures are
rounded or truncated as printed; the tolerance says which.
"""
from __future__ import annotations

import math

import pytest

from autotune.specs.architectures import model_spec_from_config
from autotune.specs.model_loader import load_model


def _without_embeddings(spec) -> int:
    """Parameters without the input embeddings and an untied LM head (the EXAONE cards' convention)."""
    head = 0 if spec.tie_word_embeddings else spec.vocab_size * spec.hidden_size
    return spec.total_params - spec.embedding_params - head - spec.vision_params


def _floor_to(value: float, unit: float) -> float:
    return math.floor(value / unit) * unit


# ---------------------------------------------------------------------------------------
# Llama 4 (llama4: text_config, interleaved MoE, shared expert, chunked attention, vision tower)


@pytest.mark.parametrize(("preset", "total", "layers_moe", "experts"), [
    # Hub model API, safetensors.parameters.BF16 of meta-llama/Llama-4-Scout-17B-16E-Instruct:
    # 108,641,793,536 (recorded in public model registries read through the code index).
    ("llama-4-scout", 108_641_793_536, 48, 16),
    # meta-llama/Llama-4-Maverick-17B-128E-Instruct checkpoint: 401,583,781,376 tensors; both checkpoints exceed
    # their text model by the same 871,932,416 (vision encoder and projector).
    ("llama-4-maverick", 401_583_781_376, 24, 128),
])
def test_llama4_totals_are_the_checkpoints(preset: str, total: int, layers_moe: int, experts: int) -> None:
    spec = load_model(preset)
    assert spec.total_params == total
    assert spec.vision_params == 871_932_416
    assert sum(spec.moe_layers) == layers_moe and spec.num_experts == experts and spec.num_shared_experts == 1
    # Llama 4 model card: "17B active parameters" (truncated); it counts the LM head, not the embedding lookup.
    assert _floor_to(spec.active_params, 1e9) == 17e9
    # 36 of 48 layers attend within 8,192-token chunks; 12 NoPE layers see the whole context.
    assert spec.sliding_window == 8192 and sum(spec.sliding_layers) == 36


def test_llama4_kv_cache_of_chunked_layers_stops_at_the_chunk() -> None:
    spec = load_model("llama-4-scout")
    per_layer_token = 2 * 8 * 128 * 2  # K and V, 8 KV heads of 128, bf16
    context = 1_000_000
    assert spec.kv_cache_bytes(context) == (36 * 8192 + 12 * context) * per_layer_token
    # An uncapped cache would hold every layer at full context: 4x more here.
    assert spec.kv_cache_bytes_per_token() * context / spec.kv_cache_bytes(context) > 3.9


# ---------------------------------------------------------------------------------------
# Gemma 3 (gemma3: Gemma3ForConditionalGeneration, text_config + SigLIP vision tower)

GEMMA3_VISION = {"hidden_size": 1152, "image_size": 896, "intermediate_size": 4304, "model_type": "siglip_vision_model",
                 "num_attention_heads": 16, "num_hidden_layers": 27, "patch_size": 14, "vision_use_head": False}


def test_gemma3_27b_matches_the_checkpoint() -> None:
    # google/gemma-3-27b-it: 27,432,406,640 parameters (Hub safetensors total, as recorded by public parameter
    # tables and llama.cpp's n_params for gemma-3-27b-it).
    spec = load_model("gemma-3-27b-it")
    assert spec.total_params == 27_432_406_640
    # Gemma 3 Technical Report (2025), Table 1: 27B non-embedding parameters 25,600M; vision encoder 417M.
    assert abs(spec.total_params - spec.embedding_params - spec.vision_params - 25_600e6) <= 0.5e6
    tower = spec.vision_params - (1152 * spec.hidden_size + 1152)  # minus the multimodal projector
    assert abs(tower - 417e6) <= 0.5e6
    # Five local layers (window 1,024) per global layer.
    assert spec.sliding_window == 1024 and sum(spec.sliding_layers) == 52


def test_gemma3_4b_config_with_defaults_matches_the_checkpoint() -> None:
    # google/gemma-3-4b-it's config.json names few text fields (the Gemma3TextConfig defaults give the rest):
    # as reproduced in public tests that load it; sum(p.numel()) of Gemma3ForConditionalGeneration = 4,300,079,472
    # (asserted by public scripts that load google/gemma-3-4b-it revision 093f9f38).
    config = {"architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3", "mm_tokens_per_image": 256,
              "text_config": {"hidden_size": 2560, "intermediate_size": 10240, "model_type": "gemma3_text",
                              "num_hidden_layers": 34, "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
                              "sliding_window": 1024},
              "vision_config": GEMMA3_VISION}
    spec = model_spec_from_config(config, source="google/gemma-3-4b-it")
    assert spec.total_params == 4_300_079_472
    # Gemma 3 Technical Report, Table 1: 4B non-embedding 3,209M.
    assert abs(spec.total_params - spec.embedding_params - spec.vision_params - 3_209e6) <= 0.5e6


# ---------------------------------------------------------------------------------------
# EXAONE 3.5 (exaone) and EXAONE 4.0 (exaone4)


@pytest.mark.parametrize(("hf_id", "layers", "hidden", "ffn", "heads", "tied", "card"), [
    # EXAONE 3.5 model cards (LGAI-EXAONE/EXAONE-3.5-*-Instruct and their GGUF repos): "Number of Parameters
    # (without embeddings)": 32B 30.95B, 7.8B 6.98B, 2.4B 2.14B; GQA with 8 KV heads; vocab 102,400; the 2.4B
    # ties its embeddings. Layers and FFN widths: EXAONE 3.5 technical report (arXiv 2412.04862), Table 1.
    ("LGAI-EXAONE/EXAONE-3.5-32B-Instruct", 64, 5120, 27392, 40, False, 30.95e9),
    ("LGAI-EXAONE/EXAONE-3.5-7.8B-Instruct", 32, 4096, 14336, 32, False, 6.98e9),
    ("LGAI-EXAONE/EXAONE-3.5-2.4B-Instruct", 30, 2560, 7168, 32, True, 2.14e9),
])
def test_exaone_35_matches_model_cards(hf_id: str, layers: int, hidden: int, ffn: int, heads: int, tied: bool,
                                       card: float) -> None:
    config = {"architectures": ["ExaoneForCausalLM"], "model_type": "exaone", "num_layers": layers,
              "hidden_size": hidden, "intermediate_size": ffn, "num_attention_heads": heads,
              "num_key_value_heads": 8, "vocab_size": 102400, "tie_word_embeddings": tied,
              "activation_function": "silu", "max_position_embeddings": 32768}
    spec = model_spec_from_config(config, source=hf_id)
    assert abs(_without_embeddings(spec) - card) <= 0.005e9


def test_exaone_35_32b_preset_matches_model_card() -> None:
    # LGAI-EXAONE/EXAONE-3.5-32B-Instruct model card: "Number of Parameters (without embeddings): 30.95B",
    # 64 layers, GQA 40/8, vocab 102,400, 32,768 context. Per tensor: 64 x (q 5120x5120 + k, v 5120x1024 +
    # o 5120x5120 + gate, up, down 3 x 5120x27392 + 2 norms 5120) + final norm 5120 = 30,954,624,000, plus the
    # untied embedding and LM head, 2 x 102400 x 5120.
    spec = load_model("exaone-3.5")
    assert spec.name == "exaone-3.5-32b-instruct" and spec.model_type == "exaone"
    per_layer = 2 * 5120 * 5120 + 2 * 5120 * 1024 + 3 * 5120 * 27392 + 2 * 5120
    assert _without_embeddings(spec) == 64 * per_layer + 5120 == 30_954_624_000
    assert spec.total_params == 30_954_624_000 + 2 * 102400 * 5120
    assert abs(_without_embeddings(spec) - 30.95e9) <= 0.005e9
    assert spec.kv_cache_bytes(32768) == 64 * 2 * 8 * 128 * 2 * 32768


def test_exaone4_32b_matches_model_card_and_caps_local_kv() -> None:
    # EXAONE-4.0-32B model card: "Number of Parameters (without embeddings): 30.95B", 64 layers, GQA 40/8,
    # hybrid attention local:global 3:1 with a 4K window.
    spec = load_model("exaone-4.0-32b")
    assert abs(_without_embeddings(spec) - 30.95e9) <= 0.005e9
    assert sum(spec.sliding_layers) == 48 and spec.sliding_window == 4096
    per_layer_token = 2 * 8 * 128 * 2
    assert spec.kv_cache_bytes(131072) == (48 * 4096 + 16 * 131072) * per_layer_token


def test_exaone4_12b_all_global() -> None:
    # EXAONE-4.0-1.2B model card: "Number of Parameters (without embeddings): 1.07B", 30 layers, GQA 32/8,
    # tied embeddings, no sliding window (config fields as in public copies of its config.json).
    config = {"architectures": ["Exaone4ForCausalLM"], "model_type": "exaone4", "head_dim": 64, "hidden_size": 2048,
              "intermediate_size": 4096, "num_hidden_layers": 30, "num_attention_heads": 32,
              "num_key_value_heads": 8, "vocab_size": 102400, "tie_word_embeddings": True,
              "max_position_embeddings": 65536, "sliding_window": None, "sliding_window_pattern": None}
    spec = model_spec_from_config(config, source="LGAI-EXAONE/EXAONE-4.0-1.2B")
    assert abs(_without_embeddings(spec) - 1.07e9) <= 0.005e9
    assert spec.sliding_layers == ()


# ---------------------------------------------------------------------------------------
# K-EXAONE (exaone_moe) and Solar Open (solar_open): cards print truncated figures


def test_k_exaone_matches_model_card() -> None:
    # K-EXAONE model card: "Number of Parameters: 236B in total and 23B activated"; "(without embeddings): 234B";
    # 48 main layers (+1 MTP layer, not loaded for serving); 12 x (3 sliding + 1 global); window 128.
    spec = load_model("k-exaone-236b-a23b")
    assert _floor_to(spec.total_params, 1e9) == 236e9
    assert _floor_to(_without_embeddings(spec), 1e9) == 234e9
    assert _floor_to(spec.active_params, 1e9) == 23e9
    assert spec.num_layers == 48 and sum(spec.sliding_layers) == 36 and spec.sliding_window == 128
    assert sum(spec.moe_layers) == 47 and spec.num_experts == 128 and spec.experts_per_token == 8


def test_solar_open_matches_model_card() -> None:
    # upstage/Solar-Open-100B model card: "Total Parameters: 102.6B", "Active Parameters: 12B (per token)",
    # "129 Experts (top 8 among 128 Routed + 1 Shared)".
    spec = load_model("solar-open-100b")
    assert _floor_to(spec.total_params, 0.1e9) == pytest.approx(102.6e9)
    assert _floor_to(spec.active_params, 1e9) == 12e9
    assert spec.num_experts == 128 and spec.num_shared_experts == 1 and sum(spec.moe_layers) == 48
