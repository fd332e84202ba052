"""Parsers for the GPT-style decoders: LayerNorm (scale and shift), plain 4x FFN, biases.

Covers gptj, gpt_neox, falcon and opt, following `modeling_<type>.py` in Hugging Face
`transformers`. Their configs use older field names (`n_embd`, `n_layer`, `n_head`,
`ffn_dim`), read here as aliases of the usual ones.
"""
from __future__ import annotations

from autotune.specs.arch_common import (
    ConfigReader,
    LayerCount,
    assemble,
    attention_shape,
    layer_norm_params,
    linear_params,
)
from autotune.specs.model import ModelSpec

GPT_STYLE_TYPES: tuple[str, ...] = ("falcon", "gpt_neox", "gptj", "opt")


def _plain_mlp_params(hidden: int, intermediate: int, *, bias: bool) -> int:
    """Returns the scalars of an up-projection, activation, down-projection FFN."""
    return linear_params(hidden, intermediate, bias=bias) + linear_params(intermediate, hidden, bias=bias)


def parse_gptj(cfg: ConfigReader, model_type: str) -> ModelSpec:
    """Returns the ModelSpec of a GPT-J config."""
    num_layers = cfg.integer("num_hidden_layers", "n_layer")
    hidden = cfg.integer("hidden_size", "n_embd")
    heads = cfg.integer("num_attention_heads", "n_head")
    head_dim = attention_shape(cfg, hidden=hidden, heads=heads, kv_heads=heads, head_dim_keys=())
    vocab = cfg.integer("vocab_size")
    intermediate = cfg.integer("intermediate_size", "n_inner", default=4 * hidden)
    max_positions = cfg.integer("max_position_embeddings", "n_positions", default=2048)
    tied = cfg.flag("tie_word_embeddings", default=False)
    # GPTJBlock: one LayerNorm feeding attention and FFN in parallel; q/k/v/out without
    # bias; fc_in and fc_out with bias.
    layer = (layer_norm_params(hidden) + 4 * linear_params(hidden, hidden, bias=False)
             + _plain_mlp_params(hidden, intermediate, bias=True))
    # GPTJForCausalLM: the LM head has a bias (vocab_size scalars) even when tied.
    final = layer_norm_params(hidden) + (0 if tied else vocab * hidden) + vocab
    layers = [LayerCount(total=layer, active=layer)] * num_layers
    return assemble(cfg, model_type=model_type, num_layers=num_layers, hidden=hidden, intermediate=intermediate,
                    heads=heads, kv_heads=heads, head_dim=head_dim, vocab=vocab, max_positions=max_positions,
                    tied=tied, embedding_params=vocab * hidden, final_params=final, layers=layers)


def parse_gpt_neox(cfg: ConfigReader, model_type: str) -> ModelSpec:
    """Returns the ModelSpec of a GPT-NeoX (Pythia) config."""
    num_layers = cfg.integer("num_hidden_layers")
    hidden = cfg.integer("hidden_size")
    heads = cfg.integer("num_attention_heads")
    head_dim = attention_shape(cfg, hidden=hidden, heads=heads, kv_heads=heads, head_dim_keys=())
    vocab = cfg.integer("vocab_size")
    intermediate = cfg.integer("intermediate_size")
    max_positions = cfg.integer("max_position_embeddings", default=2048)
    tied = cfg.flag("tie_word_embeddings", default=False)
    bias = cfg.flag("attention_bias", default=True)
    # GPTNeoXLayer: input and post-attention LayerNorms; fused query_key_value and dense
    # (biases per attention_bias); dense_h_to_4h and dense_4h_to_h with biases.
    layer = (2 * layer_norm_params(hidden) + linear_params(hidden, 3 * hidden, bias=bias)
             + linear_params(hidden, hidden, bias=bias) + _plain_mlp_params(hidden, intermediate, bias=True))
    # GPTNeoXForCausalLM: final_layer_norm and a separate embed_out (no bias).
    final = layer_norm_params(hidden) + (0 if tied else vocab * hidden)
    layers = [LayerCount(total=layer, active=layer)] * num_layers
    return assemble(cfg, model_type=model_type, num_layers=num_layers, hidden=hidden, intermediate=intermediate,
                    heads=heads, kv_heads=heads, head_dim=head_dim, vocab=vocab, max_positions=max_positions,
                    tied=tied, embedding_params=vocab * hidden, final_params=final, layers=layers)


def parse_falcon(cfg: ConfigReader, model_type: str) -> ModelSpec:
    """Returns the ModelSpec of a Falcon config (7B-style multi-query or 40B/180B-style GQA)."""
    num_layers = cfg.integer("num_hidden_layers", "n_layer")
    hidden = cfg.integer("hidden_size")
    heads = cfg.integer("num_attention_heads", "n_head")
    vocab = cfg.integer("vocab_size")
    # The pre-transformers "RefinedWeb" code (Falcon-40B) always used the new architecture;
    # "RefinedWebModel" (Falcon-7B) the old one.
    new_architecture = cfg.flag("new_decoder_architecture", default=cfg.data.get("model_type") == "RefinedWeb")
    multi_query = cfg.flag("multi_query", default=True)
    parallel_attn = cfg.flag("parallel_attn", default=True)
    bias = cfg.flag("bias", default=False)
    # FalconAttention: GQA with num_kv_heads in the new architecture, else one shared
    # key/value head (multi_query) or full multi-head attention.
    if new_architecture:
        kv_heads = cfg.integer("num_kv_heads", "n_head_kv", "num_key_value_heads", default=heads,
                               maximum=1 << 16)
    else:
        kv_heads = 1 if multi_query else heads
    head_dim = attention_shape(cfg, hidden=hidden, heads=heads, kv_heads=kv_heads, head_dim_keys=())
    intermediate = cfg.integer("intermediate_size", "ffn_hidden_size", default=4 * hidden)
    max_positions = cfg.integer("max_position_embeddings", default=2048)
    # Tied unless the config says otherwise: FalconConfig keeps PretrainedConfig's default
    # tie_word_embeddings=True (FalconForCausalLM._tied_weights_keys = ["lm_head.weight"]), and
    # vLLM's FalconForCausalLM defaults it to True too ("only Falcon-11B doesn't share lm_head
    # weight with word embeddings"). The TII 7B/40B/180B configs have no such key; their
    # safetensors files store lm_head.weight as a second copy of the embedding, which engines
    # skip, so the Hub's totals (41.84B, 179.52B) count that copy and the served model does not.
    tied = cfg.flag("tie_word_embeddings", default=True)

    # FalconDecoderLayer: the new architecture has ln_attn and ln_mlp (num_ln_in_parallel_attn
    # defaults to 2 there); otherwise input_layernorm, plus post_attention_layernorm when
    # attention and FFN run in sequence.
    ln_setting = cfg.integer("num_ln_in_parallel_attn", default=2 if new_architecture else 1, maximum=2)
    if new_architecture and ln_setting == 2:
        ln_count = 2
    else:
        ln_count = 1 if parallel_attn else 2
    attention = (linear_params(hidden, (heads + 2 * kv_heads) * head_dim, bias=bias)
                 + linear_params(hidden, hidden, bias=bias))
    layer = ln_count * layer_norm_params(hidden) + attention + _plain_mlp_params(hidden, intermediate, bias=bias)
    final = layer_norm_params(hidden) + (0 if tied else vocab * hidden)
    layers = [LayerCount(total=layer, active=layer)] * num_layers
    return assemble(cfg, model_type=model_type, num_layers=num_layers, hidden=hidden, intermediate=intermediate,
                    heads=heads, kv_heads=kv_heads, head_dim=head_dim, vocab=vocab, max_positions=max_positions,
                    tied=tied, embedding_params=vocab * hidden, final_params=final, layers=layers)


def parse_opt(cfg: ConfigReader, model_type: str) -> ModelSpec:
    """Returns the ModelSpec of an OPT config."""
    num_layers = cfg.integer("num_hidden_layers")
    hidden = cfg.integer("hidden_size")
    heads = cfg.integer("num_attention_heads")
    head_dim = attention_shape(cfg, hidden=hidden, heads=heads, kv_heads=heads, head_dim_keys=())
    vocab = cfg.integer("vocab_size")
    intermediate = cfg.integer("intermediate_size", "ffn_dim")
    max_positions = cfg.integer("max_position_embeddings", default=2048)
    word_dim = cfg.integer("word_embed_proj_dim", default=hidden, maximum=1 << 20)
    tied = cfg.flag("tie_word_embeddings", default=True)
    bias = cfg.flag("enable_bias", default=True)
    affine = cfg.flag("layer_norm_elementwise_affine", default=True)
    norm_before = cfg.flag("do_layer_norm_before", default=True)
    remove_final_norm = cfg.flag("_remove_final_layer_norm", default=False)
    norm = layer_norm_params(hidden) if affine else 0

    # OPTLearnedPositionalEmbedding keeps 2 extra rows (positions are offset by 2).
    # OPT-350m embeds at word_embed_proj_dim and projects in and out without bias.
    projections = 0 if word_dim == hidden else linear_params(word_dim, hidden, bias=False)
    embedding = vocab * word_dim + (max_positions + 2) * hidden + projections
    # OPTDecoderLayer: q/k/v/out_proj, self_attn_layer_norm, fc1, fc2, final_layer_norm.
    layer = 4 * linear_params(hidden, hidden, bias=bias) + 2 * norm + _plain_mlp_params(hidden, intermediate,
                                                                                       bias=bias)
    final_norm = norm if norm_before and not remove_final_norm else 0
    final = final_norm + projections + (0 if tied else vocab * word_dim)
    layers = [LayerCount(total=layer, active=layer)] * num_layers
    return assemble(cfg, model_type=model_type, num_layers=num_layers, hidden=hidden, intermediate=intermediate,
                    heads=heads, kv_heads=heads, head_dim=head_dim, vocab=vocab, max_positions=max_positions,
                    tied=tied, embedding_params=embedding, final_params=final, layers=layers,
                    lm_head_input_dim=word_dim)
