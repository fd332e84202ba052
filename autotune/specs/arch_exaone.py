"""Parsers for LG AI Research's EXAONE decoders: exaone (3.0 / 3.5), exaone4 (4.0) and exaone_moe (K-EXAONE).

Each follows the Hugging Face `transformers` module named below (`models/<type>/modeling_<type>.py`):

- `exaone`: the Llama layout (ExaoneConfig is "the Llama implementation") under EXAONE's own key names:
  `num_layers`, `activation_function`, `layer_norm_epsilon` (ExaoneConfig.attribute_map).
- `exaone4`: QK-Reorder-Norm: the RMSNorms come after attention and after the MLP
  (post_attention_layernorm, post_feedforward_layernorm) plus an RMSNorm of width head_dim on
  queries and on keys; hybrid attention, local (sliding window) and global layers.
- `exaone_moe`: pre-norm layers (input and post-attention RMSNorms) with q/k norms, the exaone4
  hybrid attention, a first dense layer, then routed experts with one shared expert and a sigmoid
  router whose per-expert `e_score_correction_bias` the checkpoint stores. The multi-token-prediction
  weights (`mtp.*`) are skipped by `ExaoneMoeForCausalLM` (`_keys_to_ignore_on_load_unexpected`), so
  they are not counted, as for DeepSeek-V3.
"""
from __future__ import annotations

from dataclasses import replace

from autotune.errors import InputError
from autotune.specs.arch_common import (
    ConfigReader,
    LayerCount,
    MoeShape,
    assemble,
    decoder_shape,
    expert_count_check,
    gated_mlp_params,
    gqa_attention_params,
    rms_norm_params,
    sliding_layers_from_types,
)
from autotune.specs.arch_llama import parse_llama_style
from autotune.specs.model import ModelSpec

EXAONE_TYPES: tuple[str, ...] = ("exaone", "exaone4", "exaone_moe")

#: ExaoneConfig.attribute_map: EXAONE 3.x config keys -> the Llama names the counting reads.
_EXAONE_KEYS: dict[str, str] = {"num_layers": "num_hidden_layers", "activation_function": "hidden_act",
                                "layer_norm_epsilon": "rms_norm_eps"}
#: ExaoneConfig defaults that differ from LlamaConfig's (max_position_embeddings 4096, not 2048).
_EXAONE_MAX_POSITIONS = 4096


def parse_exaone(cfg: ConfigReader, model_type: str) -> ModelSpec:
    """Returns the ModelSpec of an EXAONE 3.0 / 3.5 config (model_type exaone)."""
    if not cfg.has("num_layers") and not cfg.has("num_hidden_layers"):
        raise InputError(source=cfg.source, field="num_layers", has_value=False,
                         expected="a required integer >= 1 (EXAONE's name for num_hidden_layers)")
    data = {_EXAONE_KEYS.get(key, key): value for key, value in cfg.data.items()}
    data.setdefault("max_position_embeddings", _EXAONE_MAX_POSITIONS)
    spec = parse_llama_style(ConfigReader(data, cfg.source), "llama")
    return replace(spec, model_type=model_type)


def hybrid_sliding_layers(cfg: ConfigReader, num_layers: int) -> tuple[int | None, tuple[bool, ...]]:
    """Returns (window, per-layer sliding flags) of an EXAONE 4 / K-EXAONE hybrid-attention config.

    Exaone4Config: no `sliding_window` means every layer is global. Otherwise an explicit
    `layer_types` list wins; else `sliding_window_pattern` says which layers are local, either as
    a string cycled over the layers ("LLLG": three local, one global; the last layer is always
    global) or as an integer p (every p-th layer global: layer i is local when (i + 1) % p != 0; default 4).
    """
    window = cfg.optional_integer("sliding_window")
    if window is None:
        return None, ()
    explicit = sliding_layers_from_types(cfg, num_layers)
    if explicit is not None:
        return window, explicit
    pattern = cfg.data.get("sliding_window_pattern", 4)
    if pattern is None:
        pattern = 4
    if isinstance(pattern, str):
        if not pattern or any(letter not in "LG" for letter in pattern):
            raise cfg.error("sliding_window_pattern", pattern,
                            "a string of L (local) and G (global), e.g. \"LLLG\", or an integer >= 1")
        # "The final layer always uses global attention regardless of the pattern" (ExaoneMoeConfig docs).
        return window, tuple(pattern[index % len(pattern)] == "L" and index < num_layers - 1
                             for index in range(num_layers))
    every = cfg.integer("sliding_window_pattern", default=4, maximum=num_layers + 1)
    return window, tuple((index + 1) % every != 0 for index in range(num_layers))


def parse_exaone4(cfg: ConfigReader, model_type: str) -> ModelSpec:
    """Returns the ModelSpec of an EXAONE 4.0 config (model_type exaone4)."""
    num_layers, hidden, heads, kv_heads, head_dim = decoder_shape(cfg)
    vocab = cfg.integer("vocab_size")
    intermediate = cfg.integer("intermediate_size")
    max_positions = cfg.integer("max_position_embeddings", default=2048)  # Exaone4Config default
    tied = cfg.flag("tie_word_embeddings", default=False)
    # Exaone4Attention: bias-free q/k/v/o, q_norm and k_norm; Exaone4DecoderLayer: two RMSNorms.
    attention = gqa_attention_params(hidden, heads, kv_heads, head_dim, qkv_bias=False, o_bias=False)
    norms = 2 * rms_norm_params(hidden) + 2 * rms_norm_params(head_dim)
    layer = attention + norms + gated_mlp_params(hidden, intermediate)
    window, sliding = hybrid_sliding_layers(cfg, num_layers)
    final = rms_norm_params(hidden) + (0 if tied else vocab * hidden)
    return assemble(cfg, model_type=model_type, num_layers=num_layers, hidden=hidden, intermediate=intermediate,
                    heads=heads, kv_heads=kv_heads, head_dim=head_dim, vocab=vocab, max_positions=max_positions,
                    tied=tied, embedding_params=vocab * hidden, final_params=final,
                    layers=[LayerCount(total=layer, active=layer)] * num_layers,
                    sliding_window=window, sliding_layers=sliding)


def _moe_flags(cfg: ConfigReader, num_layers: int) -> tuple[bool, ...]:
    """Returns per-layer MoE flags: `mlp_layer_types` ("dense"/"sparse"), else the older
    `is_moe_layer` list, else ExaoneMoeConfig's rule (dense below first_k_dense_replace, default 1)."""
    kinds = cfg.str_list("mlp_layer_types")
    if kinds is not None:
        if len(kinds) != num_layers:
            raise cfg.error("mlp_layer_types", f"{len(kinds)} entries", f"one entry per layer ({num_layers})")
        for index, kind in enumerate(kinds):
            if kind not in ("dense", "sparse"):
                raise cfg.error(f"mlp_layer_types[{index}]", kind, "dense or sparse")
        return tuple(kind == "sparse" for kind in kinds)
    flags = cfg.data.get("is_moe_layer")
    if flags is not None:
        if not isinstance(flags, list) or not all(isinstance(flag, bool) for flag in flags):
            raise cfg.error("is_moe_layer", flags, "a list of true/false, one per layer")
        if len(flags) != num_layers:
            raise cfg.error("is_moe_layer", f"{len(flags)} entries", f"one entry per layer ({num_layers})")
        return tuple(flags)
    first_dense = cfg.integer("first_k_dense_replace", default=1, minimum=0, maximum=num_layers)
    return tuple(index >= first_dense for index in range(num_layers))


def parse_exaone_moe(cfg: ConfigReader, model_type: str) -> ModelSpec:
    """Returns the ModelSpec of a K-EXAONE config (model_type exaone_moe)."""
    num_layers, hidden, heads, kv_heads, head_dim = decoder_shape(cfg)
    vocab = cfg.integer("vocab_size")
    intermediate = cfg.integer("intermediate_size")
    max_positions = cfg.integer("max_position_embeddings", default=2048)  # ExaoneMoeConfig default
    tied = cfg.flag("tie_word_embeddings", default=False)
    experts = cfg.integer("num_experts", default=64, maximum=1 << 16)
    top_k = cfg.integer("num_experts_per_tok", default=8, maximum=1 << 16)
    expert_count_check(cfg, experts=experts, top_k=top_k, top_k_key="num_experts_per_tok")
    width = cfg.integer("moe_intermediate_size", default=1024, maximum=1 << 22)
    shared_count = cfg.integer("num_shared_experts", default=1, minimum=0, maximum=1 << 10)

    attention = gqa_attention_params(hidden, heads, kv_heads, head_dim, qkv_bias=False, o_bias=False)
    norms = 2 * rms_norm_params(hidden) + 2 * rms_norm_params(head_dim)
    dense_ffn = gated_mlp_params(hidden, intermediate)
    expert = gated_mlp_params(hidden, width)
    # ExaoneMoeTopkRouter: weight (experts x hidden) and the stored e_score_correction_bias (experts).
    router = experts * hidden + experts
    # ExaoneMoeSparseMoEBlock: one MLP of width moe_intermediate_size x num_shared_experts.
    shared = gated_mlp_params(hidden, width * shared_count) if shared_count else 0
    layers = []
    for is_moe in _moe_flags(cfg, num_layers):
        if is_moe:
            layers.append(LayerCount(total=attention + norms + router + experts * expert + shared,
                                     active=attention + norms + router + top_k * expert + shared, moe=True))
        else:
            layers.append(LayerCount(total=attention + norms + dense_ffn, active=attention + norms + dense_ffn))
    moe = MoeShape(num_experts=experts, experts_per_token=top_k, num_shared_experts=shared_count,
                   expert_params=expert, intermediate_size=width) if any(layer.moe for layer in layers) else None
    window, sliding = hybrid_sliding_layers(cfg, num_layers)
    final = rms_norm_params(hidden) + (0 if tied else vocab * hidden)
    return assemble(cfg, model_type=model_type, num_layers=num_layers, hidden=hidden, intermediate=intermediate,
                    heads=heads, kv_heads=kv_heads, head_dim=head_dim, vocab=vocab, max_positions=max_positions,
                    tied=tied, embedding_params=vocab * hidden, final_params=final, layers=layers, moe=moe,
                    sliding_window=window, sliding_layers=sliding)

