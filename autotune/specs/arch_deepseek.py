"""Parser for DeepSeek-V2 / V3: multi-head latent attention (MLA) and fine-grained MoE.

Follows `modeling_deepseek.py` as published with the checkpoints (deepseek-ai/DeepSeek-V2,
DeepSeek-V3): the tensors of the main model only; the multi-token-prediction layers
(`num_nextn_predict_layers`) are a separate module that serving does not load by default,
as `param_counts.csv` counts them (671B main model, 685B with MTP).
"""
from __future__ import annotations

from autotune.specs.arch_common import (
    ConfigReader,
    LayerCount,
    MoeShape,
    assemble,
    expert_count_check,
    gated_mlp_params,
    linear_params,
    rms_norm_params,
)
from autotune.specs.model import ModelSpec

DEEPSEEK_TYPES: tuple[str, ...] = ("deepseek_v2", "deepseek_v3")


def parse_deepseek(cfg: ConfigReader, model_type: str) -> ModelSpec:
    """Returns the ModelSpec of a DeepSeek-V2 or -V3 config."""
    num_layers = cfg.integer("num_hidden_layers")
    hidden = cfg.integer("hidden_size")
    heads = cfg.integer("num_attention_heads")
    vocab = cfg.integer("vocab_size")
    intermediate = cfg.integer("intermediate_size")
    max_positions = cfg.integer("max_position_embeddings", default=2048)
    tied = cfg.flag("tie_word_embeddings", default=False)

    q_lora_rank = cfg.optional_integer("q_lora_rank", maximum=1 << 20)
    kv_lora_rank = cfg.integer("kv_lora_rank", maximum=1 << 20)
    qk_nope = cfg.integer("qk_nope_head_dim", maximum=1 << 16)
    qk_rope = cfg.integer("qk_rope_head_dim", maximum=1 << 16)
    v_head = cfg.integer("v_head_dim", maximum=1 << 16)
    bias = cfg.flag("attention_bias", default=False)
    qk_head = qk_nope + qk_rope

    # DeepseekV2Attention: without q_lora_rank (V2-Lite) queries come from one q_proj;
    # with it, through q_a_proj -> q_a_layernorm -> q_b_proj. Keys and values share the
    # compressed latent: kv_a_proj_with_mqa -> kv_a_layernorm -> kv_b_proj.
    if q_lora_rank is None:
        queries = linear_params(hidden, heads * qk_head, bias=False)
    else:
        queries = (linear_params(hidden, q_lora_rank, bias=bias) + rms_norm_params(q_lora_rank)
                   + linear_params(q_lora_rank, heads * qk_head, bias=False))
    keys_values = (linear_params(hidden, kv_lora_rank + qk_rope, bias=bias) + rms_norm_params(kv_lora_rank)
                   + linear_params(kv_lora_rank, heads * (qk_nope + v_head), bias=False))
    output = linear_params(heads * v_head, hidden, bias=bias)
    attention = queries + keys_values + output
    norms = 2 * rms_norm_params(hidden)

    experts = cfg.integer("n_routed_experts", maximum=1 << 16)
    top_k = cfg.integer("num_experts_per_tok", maximum=1 << 16)
    expert_count_check(cfg, experts=experts, top_k=top_k, top_k_key="num_experts_per_tok")
    width = cfg.integer("moe_intermediate_size", maximum=1 << 22)
    shared_count = cfg.integer("n_shared_experts", default=0, minimum=0, maximum=1 << 10)
    first_dense = cfg.integer("first_k_dense_replace", default=0, minimum=0, maximum=num_layers)
    frequency = cfg.integer("moe_layer_freq", default=1, maximum=num_layers)

    expert = gated_mlp_params(hidden, width)
    # MoEGate: a weight of (experts x hidden); V3's noaux_tc routing adds the per-expert
    # e_score_correction_bias, which the checkpoint stores.
    router = experts * hidden
    if model_type == "deepseek_v3" or cfg.data.get("topk_method") == "noaux_tc":
        router += experts
    # The shared experts are one MLP of width moe_intermediate_size x n_shared_experts.
    shared = gated_mlp_params(hidden, width * shared_count) if shared_count else 0
    dense_ffn = gated_mlp_params(hidden, intermediate)

    layers = []
    for index in range(num_layers):
        # DeepseekV2DecoderLayer: MoE when index >= first_k_dense_replace and index % moe_layer_freq == 0.
        if index >= first_dense and index % frequency == 0:
            ffn_total = router + experts * expert + shared
            ffn_active = router + top_k * expert + shared
            layers.append(LayerCount(total=attention + norms + ffn_total, active=attention + norms + ffn_active,
                                     moe=True))
        else:
            layers.append(LayerCount(total=attention + norms + dense_ffn, active=attention + norms + dense_ffn))

    moe = MoeShape(num_experts=experts, experts_per_token=top_k, num_shared_experts=shared_count,
                   expert_params=expert, intermediate_size=width)
    embedding = vocab * hidden
    final = rms_norm_params(hidden) + (0 if tied else vocab * hidden)
    # MLA caches one latent of kv_lora_rank plus the shared rotary key per token and layer,
    # the same on every tensor-parallel rank (not split by heads). Every head gets its own
    # decompressed key and value, so num_key_value_heads == num_attention_heads.
    return assemble(cfg, model_type=model_type, num_layers=num_layers, hidden=hidden, intermediate=intermediate,
                    heads=heads, kv_heads=heads, head_dim=qk_head, vocab=vocab, max_positions=max_positions,
                    tied=tied, embedding_params=embedding, final_params=final, layers=layers, moe=moe,
                    qk_head_dim=qk_head, v_head_dim=v_head, kv_elements=kv_lora_rank + qk_rope,
                    kv_shardable=False)
