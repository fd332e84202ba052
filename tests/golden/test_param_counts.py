"""Golden parameter counts: shipped presets and further public checkpoints vs published totals.

Each figure names its source. "exact" rows must match to the parameter; the others are
published rounded (e.g. "15.7B") and must match within the rounding.
"""
from __future__ import annotations

import csv

import pytest

from autotune.specs.architectures import model_spec_from_config
from autotune.specs.model_loader import list_model_presets, load_model
from tests.shared_data import TEST_DATA

TOLERANCE = 1e-3  # the 0.1%

# (preset, total, active or None, source). The first block repeats shared/data/param_counts.csv
# (its "source" column quoted) so that the check runs without ../shared too.
PRESET_TOTALS = [
    ("llama-2-7b", 6_738_415_616, None,
     "param_counts.csv: HF safetensors index total_size 13,476,839,424 B minus 8,192 B rotary buffers, / 2"),
    ("llama-2-70b", 68_976_648_192, None, "param_counts.csv: computed from config; HF '69.0B'"),
    ("llama-3.1-8b", 8_030_261_248, None, "param_counts.csv: computed from config; HF '8.03B'"),
    ("llama-3.1-70b", 70_553_706_496, None, "param_counts.csv: computed from config; HF '70.6B'"),
    ("llama-3.1-405b", 405_853_388_800, None, "param_counts.csv: computed; HF '406B'; Meta card '405B'"),
    ("llama-3.2-1b", 1_235_814_400, None, "param_counts.csv: tied embeddings counted once; Meta card '1.23B'"),
    ("llama-3.3-70b-instruct", 70_553_706_496, None, "param_counts.csv: same architecture as Llama-3.1-70B"),
    ("qwen2.5-7b", 7_615_616_512, None, "param_counts.csv: incl. QKV bias; Qwen card 7.61B"),
    ("qwen2.5-72b", 72_706_203_648, None, "param_counts.csv: Qwen card 72.7B"),
    ("mistral-7b-v0.1", 7_241_732_096, None, "param_counts.csv: HF '7.24B'"),
    ("mixtral-8x7b-v0.1", 46_702_792_704, 12_879_925_248, "param_counts.csv: Mistral 46.7B total, 12.9B active"),
    ("mixtral-8x22b-v0.1", 140_620_634_112, 39_152_031_744, "param_counts.csv: Mistral 141B total, 39B active"),
    ("gemma-2-9b", 9_241_705_984, None, "param_counts.csv: tied embeddings, 4 norms per layer; HF '9.24B'"),
    ("deepseek-v3", 671_026_419_200, 37_552_297_472,
     "param_counts.csv: main model excl. MTP; DeepSeek card 671B total / 37B activated"),
    ("qwen3-32b", 32_762_123_264, None, "param_counts.csv: with q/k norms; Qwen card 32.8B"),
    ("qwen3-30b-a3b", 30_532_122_624, 3_353_032_704, "param_counts.csv: Qwen card 30.5B total / 3.3B activated"),
    # Presets beyond the shared data.
    ("pythia-12b", 11_846_072_320, None,
     "EleutherAI Pythia model card, 'Naming convention and parameter count' table: 11,846,072,320"),
    ("phi-3-mini-4k-instruct", 3_821_079_552, None,
     "Nikolic, Baluta, Saxena, 'Model Provenance Testing for LLMs' (2025), table of HF models: 3,821,079,552"),
    # The LM head is tied to the embedding (no tie_word_embeddings key; FalconForCausalLM ties
    # lm_head.weight, vLLM defaults to tied). The checkpoint still stores the copy.
    ("falcon-40b", 83_671_941_120 // 2 - 65_024 * 8_192, None,
     "huggingface.co/tiiuae/falcon-40b model.safetensors.index.json total_size 83,671,941,120 B (bf16): "
     "41,835,970,560 stored parameters, minus the stored lm_head.weight copy of the 65,024 x 8,192 embedding"),
]

# Published totals rounded to the digits shown (relative tolerance = half the last digit).
PRESET_ROUNDED = [
    # Hub metadata of tiiuae/falcon-180B ("params": 179.523, OALL/requests eval request JSON,
    # huggingface.co/datasets/OALL/requests, falcon-180B_eval_request_False_bfloat16_Original.json)
    # counts every stored tensor, lm_head.weight included: a copy of the word embeddings
    # (65,024 x 14,848) that the tied model (FalconForCausalLM; vLLM's default) does not load.
    ("falcon-180b", 179.523e9 - 65_024 * 14_848, 0.0005e9),
    # DeepSeek-V2-Lite model card: "16B total params".
    ("deepseek-v2-lite", 16e9, 0.5e9),
    # Qwen1.5-MoE-A2.7B card / blog: "14.3B parameters in total".
    ("qwen1.5-moe-a2.7b", 14.3e9, 0.05e9),
    # OPT paper (Zhang et al. 2022), Table 1: "6.7B".
    ("opt-6.7b", 6.7e9, 0.05e9),
    # Qwen3-8B and Qwen3-4B model cards: "Number of Parameters: 8.2B" / "4.0B".
    ("qwen3-8b", 8.2e9, 0.05e9),
    ("qwen3-4b", 4.0e9, 0.05e9),
]


@pytest.mark.parametrize(("preset", "total", "active", "source"), PRESET_TOTALS,
                         ids=[row[0] for row in PRESET_TOTALS])
def test_preset_total_is_exact(preset: str, total: int, active: int | None, source: str) -> None:
    spec = load_model(preset)
    assert spec.total_params == total, source
    assert spec.active_params == (total if active is None else active), source


@pytest.mark.parametrize(("preset", "published", "half_digit"), PRESET_ROUNDED,
                         ids=[row[0] for row in PRESET_ROUNDED])
def test_preset_total_matches_rounded_figure(preset: str, published: float, half_digit: float) -> None:
    spec = load_model(preset)
    assert abs(spec.total_params - published) <= half_digit


def test_qwen15_moe_active_matches_card() -> None:
    # Qwen blog "Qwen1.5-MoE: Matching 7B Model Performance with 1/3 Activated Parameters":
    # 2.7B activated parameters (2.0B non-embedding).
    spec = load_model("qwen1.5-moe-a2.7b")
    assert abs(spec.active_params - 2.7e9) <= 0.05e9
    non_embedding = spec.active_params - spec.embedding_params - spec.lm_head_params
    assert abs(non_embedding - 2.0e9) <= 0.1e9


def test_deepseek_v2_lite_active_matches_card() -> None:
    # DeepSeek-V2-Lite card: "2.4B active params", which leaves out the input embedding
    # (a lookup, not a matmul); the LM head is counted.
    spec = load_model("deepseek-v2-lite")
    assert abs(spec.active_params - spec.embedding_params - 2.4e9) <= 0.1e9


def test_gemma_7b_non_embedding_matches_report() -> None:
    # Gemma technical report (2024), Table 2, non-embedding parameters: 7B 7,751,248,896.
    # (Its embedding column counts a 256,128-row training vocabulary; the checkpoint has 256,000.)
    spec = load_model("gemma-7b")
    assert spec.total_params - spec.embedding_params == 7_751_248_896


def test_gpt_j_counts_the_checkpoint_and_explains_the_card() -> None:
    """The gpt-j-6b card's 6,053,381,344 counts the 8-way model-parallel JAX layout.

    mesh-transformer-jax trained GPT-J on 8 shards: each shard's EmbeddingShard holds an
    hk.Linear with a 4096-wide bias (8 biases, summed by psum and folded away in the HF
    conversion), and the replicated tensors (each layer's LayerNorm and fc_out bias, and
    ln_f) exist once per shard. The HF checkpoint holds each tensor once, 6,050,882,784
    parameters, which is what serving loads; that is the count we report.
    """
    spec = load_model("gpt-j-6b")
    assert spec.total_params == 6_050_882_784
    hidden, layers, shards = 4096, 28, 8
    replicated_per_layer = 2 * hidden + hidden  # ln_1 weight + bias, fc_out bias
    extra = (shards - 1) * (layers * replicated_per_layer + 2 * hidden) + shards * hidden
    assert spec.total_params + extra == 6_053_381_344  # EleutherAI/gpt-j-6b card, n_parameters


def test_every_shared_model_has_a_preset() -> None:
    presets = {info.hf_id.lower() for info in list_model_presets()}
    for preset, *_ in PRESET_TOTALS[:16]:
        assert load_model(preset).hf_id.lower() in presets


def test_shared_param_counts_csv() -> None:
    """Every row of shared/data/param_counts.csv (copied to tests/data), loaded by its Hugging Face id."""
    rows = list(csv.DictReader((TEST_DATA / "param_counts.csv").open()))
    assert len(rows) >= 17
    for row in rows:
        spec = load_model(row["hf_repo"])
        total = int(row["total_params"])
        if row["model"] == "gpt-j-6b":
            # Card convention (see test above): the checkpoint holds 2,498,560 fewer.
            assert total - spec.total_params == 2_498_560
            continue
        assert abs(spec.total_params - total) <= TOLERANCE * total, row["source"]
        if row["active_params"]:
            active = int(row["active_params"])
            assert abs(spec.active_params - active) <= TOLERANCE * active, row["source"]


# ---------------------------------------------------------------------------------------
# Other public checkpoints of the supported families: config fields as published on the
# Hugging Face Hub, totals as counted by loading them in transformers.

_PROVENANCE = "Nikolic, Baluta, Saxena, 'Model Provenance Testing for LLMs' (2025), table of HF models"
_PYTHIA = "EleutherAI Pythia model cards, 'Naming convention and parameter count' table"


def _llama_like(model_type: str, vocab: int, hidden: int, ffn: int, layers: int, heads: int, kv: int,
                tied: bool, **extra) -> dict:
    return dict(model_type=model_type, vocab_size=vocab, hidden_size=hidden, intermediate_size=ffn,
                num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv,
                tie_word_embeddings=tied, **extra)


def _neox(vocab: int, hidden: int, ffn: int, layers: int, heads: int) -> dict:
    return dict(model_type="gpt_neox", vocab_size=vocab, hidden_size=hidden, intermediate_size=ffn,
                num_hidden_layers=layers, num_attention_heads=heads, tie_word_embeddings=False)


def _opt(vocab: int, hidden: int, ffn: int, layers: int, heads: int, **extra) -> dict:
    return dict(model_type="opt", vocab_size=vocab, hidden_size=hidden, ffn_dim=ffn, num_hidden_layers=layers,
                num_attention_heads=heads, max_position_embeddings=2048, **extra)


OTHER_CHECKPOINTS = [
    # Also Gemma report Table 2: 1,981,884,416 non-embedding + 256,000 x 2048 embedding.
    ("google/gemma-2b", _llama_like("gemma", 256000, 2048, 16384, 18, 8, 1, True, head_dim=256),
     2_506_172_416, _PROVENANCE),
    ("google/gemma-2-2b", _llama_like("gemma2", 256000, 2304, 9216, 26, 8, 4, True, head_dim=256),
     2_614_341_888, _PROVENANCE),
    ("Qwen/Qwen2-1.5B", _llama_like("qwen2", 151936, 1536, 8960, 28, 12, 2, True), 1_543_714_304, _PROVENANCE),
    ("Qwen/Qwen2-0.5B", _llama_like("qwen2", 151936, 896, 4864, 24, 14, 2, True), 494_032_768, _PROVENANCE),
    ("meta-llama/Llama-3.2-3B-Instruct", _llama_like("llama", 128256, 3072, 8192, 28, 24, 8, True),
     3_212_749_824, _PROVENANCE),
    ("TinyLlama/TinyLlama-1.1B-Chat-v1.0", _llama_like("llama", 32000, 2048, 5632, 22, 32, 4, False),
     1_100_048_384, _PROVENANCE),
    ("deepseek-ai/deepseek-coder-1.3b-base", _llama_like("llama", 32256, 2048, 5504, 24, 16, 16, False),
     1_346_471_936, _PROVENANCE),
    ("HuggingFaceTB/SmolLM2-135M", _llama_like("llama", 49152, 576, 1536, 30, 9, 3, True), 134_515_008,
     "public measurement table (Pythia-70M ... SmolLM2-360M, 'Params' column) loading the HF checkpoints"),
    ("HuggingFaceTB/SmolLM2-360M", _llama_like("llama", 49152, 960, 2560, 32, 15, 5, True), 361_821_120,
     "public measurement table (Pythia-70M ... SmolLM2-360M, 'Params' column) loading the HF checkpoints"),
    ("EleutherAI/pythia-70m", _neox(50304, 512, 2048, 6, 8), 70_426_624, _PYTHIA),
    ("EleutherAI/pythia-160m", _neox(50304, 768, 3072, 12, 12), 162_322_944, _PYTHIA),
    ("EleutherAI/pythia-410m", _neox(50304, 1024, 4096, 24, 16), 405_334_016, _PYTHIA),
    ("EleutherAI/pythia-1b", _neox(50304, 2048, 8192, 16, 8), 1_011_781_632, _PYTHIA),
    ("facebook/opt-125m", _opt(50272, 768, 3072, 12, 12), 125_239_296, _PROVENANCE),
    # OPT-350m embeds at 512 and projects in and out, with the LayerNorm after each block
    # (do_layer_norm_before false) and so no final LayerNorm.
    ("facebook/opt-350m", _opt(50272, 1024, 4096, 24, 16, word_embed_proj_dim=512, do_layer_norm_before=False),
     331_196_416, "public measurement table (Pythia-70M ... SmolLM2-360M, 'Params' column)"),
]


@pytest.mark.parametrize(("hf_id", "config", "total", "source"), OTHER_CHECKPOINTS,
                         ids=[row[0] for row in OTHER_CHECKPOINTS])
def test_other_public_checkpoints(hf_id: str, config: dict, total: int, source: str) -> None:
    spec = model_spec_from_config(config, source=hf_id)
    assert spec.total_params == total, source


# Published rounded figures (model cards); tolerance is half the last digit shown.
ROUNDED_CHECKPOINTS = [
    # Qwen3-0.6B card: "Number of Parameters: 0.6B; Non-Embedding: 0.44B".
    ("Qwen/Qwen3-0.6B", _llama_like("qwen3", 151936, 1024, 3072, 28, 16, 8, True, head_dim=128),
     0.6e9, 0.05e9, 0.44e9, 0.005e9),
    # Qwen3-8B card: "8.2B; Non-Embedding: 6.95B".
    ("Qwen/Qwen3-8B", _llama_like("qwen3", 151936, 4096, 12288, 36, 32, 8, False, head_dim=128),
     8.2e9, 0.05e9, 6.95e9, 0.005e9),
    # Phi-3-medium-4k-instruct card: "14B parameters".
    ("microsoft/Phi-3-medium-4k-instruct", _llama_like("phi3", 32064, 5120, 17920, 40, 40, 10, False),
     14e9, 0.5e9, None, None),
    # Gemma 2 report / card: "27B" (Hub 27.2B).
    ("google/gemma-2-27b", _llama_like("gemma2", 256000, 4608, 36864, 46, 32, 16, True, head_dim=128),
     27e9, 0.5e9, None, None),
    # Mistral NeMo announcement: "12B parameters" (head_dim 128 with hidden 5120, 32 heads).
    ("mistralai/Mistral-Nemo-Base-2407", _llama_like("mistral", 131072, 5120, 14336, 40, 32, 8, False,
                                                     head_dim=128), 12e9, 0.5e9, None, None),
]


def _non_embedding(spec) -> int:
    head = 0 if spec.tie_word_embeddings else spec.vocab_size * spec.hidden_size
    return spec.total_params - spec.embedding_params - head


@pytest.mark.parametrize(("hf_id", "config", "total", "total_tol", "non_emb", "non_emb_tol"),
                         ROUNDED_CHECKPOINTS, ids=[row[0] for row in ROUNDED_CHECKPOINTS])
def test_rounded_public_checkpoints(hf_id: str, config: dict, total: float, total_tol: float,
                                    non_emb: float | None, non_emb_tol: float | None) -> None:
    spec = model_spec_from_config(config, source=hf_id)
    assert abs(spec.total_params - total) <= total_tol
    if non_emb is not None:
        assert abs(_non_embedding(spec) - non_emb) <= non_emb_tol


def test_qwen3_235b_a22b_moe() -> None:
    # Qwen3-235B-A22B card: "235B in total and 22B activated"; 128 experts, 8 activated.
    config = _llama_like("qwen3_moe", 151936, 4096, 12288, 94, 64, 4, False, head_dim=128, num_experts=128,
                         num_experts_per_tok=8, moe_intermediate_size=1536)
    spec = model_spec_from_config(config, source="Qwen/Qwen3-235B-A22B")
    assert abs(spec.total_params - 235e9) <= 0.5e9
    assert abs(spec.active_params - 22e9) <= 0.5e9


def test_qwen3_235b_a22b_preset_matches_model_card() -> None:
    # Qwen3-235B-A22B model card (huggingface.co/Qwen/Qwen3-235B-A22B): "Number of Parameters:
    # 235B in total and 22B activated"; the preset must also equal the card-built config above.
    spec = load_model("qwen3-235b-a22b")
    assert load_model("Qwen/Qwen3-235B-A22B").total_params == spec.total_params
    assert abs(spec.total_params - 235e9) <= 0.5e9
    assert abs(spec.active_params - 22e9) <= 0.5e9
    assert (spec.num_layers, spec.num_key_value_heads, spec.num_experts, spec.experts_per_token) == (94, 4, 128, 8)


def test_deepseek_v2_moe() -> None:
    # DeepSeek-V2 card / paper: "236B total parameters, of which 21B are activated for each token".
    config = dict(model_type="deepseek_v2", vocab_size=102400, hidden_size=5120, intermediate_size=12288,
                  num_hidden_layers=60, num_attention_heads=128, q_lora_rank=1536, kv_lora_rank=512,
                  qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128, n_routed_experts=160,
                  num_experts_per_tok=6, moe_intermediate_size=1536, n_shared_experts=2, first_k_dense_replace=1,
                  topk_method="group_limited_greedy", tie_word_embeddings=False)
    spec = model_spec_from_config(config, source="deepseek-ai/DeepSeek-V2")
    assert abs(spec.total_params - 236e9) <= 0.5e9
    assert abs(spec.active_params - 21e9) <= 0.5e9


@pytest.mark.parametrize(("preset", "total", "active"), [
    ("gpt-oss-120b", 116.83e9, 5.13e9),
    ("gpt-oss-20b", 20.91e9, 3.61e9),
])
def test_gpt_oss_matches_model_card(preset: str, total: float, active: float) -> None:
    # OpenAI gpt-oss-120b & gpt-oss-20b model card (2025), Table 1: total and active
    # parameters; "active" there leaves out the input embedding (a lookup).
    spec = load_model(preset)
    assert abs(spec.total_params - total) <= 0.005e9
    assert abs(spec.active_params - spec.embedding_params - active) <= 0.005e9
    assert spec.sliding_window == 128 and sum(spec.sliding_layers) == spec.num_layers // 2
