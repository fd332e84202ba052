"""Parser for Meta Llama 4 (model_type llama4, and its text model llama4_text): Scout and Maverick.

Follows `models/llama4/modeling_llama4.py` and `configuration_llama4.py` in Hugging Face transformers:

- Llama4TextDecoderLayer: bias-free q/k/v/o (`attention_bias`), input and post-attention RMSNorms
  (the QK norm is a parameter-free L2 norm); its FFN is routed experts in the layers of
  `moe_layers` (default: every `interleave_moe_layer_step`-th layer, starting at step - 1) and a
  dense SwiGLU of width `intermediate_size_mlp` elsewhere.
- Llama4TextMoe: a bias-free router (hidden x experts), `num_local_experts` experts of width
  `intermediate_size` (fused gate_up and down), and one shared expert of the same width that every
  token uses.
- Attention: layer i uses RoPE when `no_rope_layers[i]` is 1 (default: all but every
  `no_rope_layer_interval`-th layer, default 4); those layers attend in chunks of
  `attention_chunk_size` tokens (layer_types "chunked_attention"), so their KV cache never holds more
  than one chunk. The NoPE layers attend to the whole context. A chunk is modelled as a window of
  that size: the cap is exact; the mean attended span inside a chunk is at most the window.
- Llama4ForConditionalGeneration adds `vision_model` (Llama4VisionModel) and
  `multi_modal_projector`; they are counted into `vision_params` when `vision_config` is given.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from autotune.specs.arch_common import (
    ConfigReader,
    LayerCount,
    MoeShape,
    assemble,
    decoder_shape,
    expert_count_check,
    gated_mlp_params,
    gqa_attention_params,
    layer_norm_params,
    linear_params,
    rms_norm_params,
)
from autotune.specs.arch_multimodal import sub_config
from autotune.specs.model import ModelSpec

LLAMA4_TYPES: tuple[str, ...] = ("llama4", "llama4_text")

#: Llama4VisionConfig defaults (configuration_llama4.py).
LLAMA4_VISION_DEFAULTS: dict[str, Any] = {
    "hidden_size": 768, "num_hidden_layers": 34, "num_attention_heads": 16, "num_channels": 3,
    "intermediate_size": 5632, "vision_output_dim": 7680, "image_size": 448, "patch_size": 14,
    "projector_input_dim": 4096, "projector_output_dim": 4096,
}


def _text_params(text: ConfigReader, model_type: str) -> ModelSpec:
    """Returns the ModelSpec of a Llama 4 text model (the `text_config` of a llama4 config)."""
    num_layers, hidden, heads, kv_heads, head_dim = decoder_shape(text)
    vocab = text.integer("vocab_size")
    width = text.integer("intermediate_size")
    dense_width = text.integer("intermediate_size_mlp", default=16384, maximum=1 << 22)
    max_positions = text.integer("max_position_embeddings", default=4096 * 32)
    tied = text.flag("tie_word_embeddings", default=False)
    experts = text.integer("num_local_experts", default=16, maximum=1 << 16)
    top_k = text.integer("num_experts_per_tok", default=1, maximum=1 << 16)
    expert_count_check(text, experts=experts, top_k=top_k, top_k_key="num_experts_per_tok")

    moe_layers = set(text.int_list("moe_layers", maximum=num_layers - 1))
    if not text.has("moe_layers"):
        step = text.integer("interleave_moe_layer_step", default=1, maximum=num_layers)
        moe_layers = set(range(step - 1, num_layers, step))

    bias = text.flag("attention_bias", default=False)
    attention = gqa_attention_params(hidden, heads, kv_heads, head_dim, qkv_bias=bias, o_bias=bias)
    norms = 2 * rms_norm_params(hidden)
    expert = gated_mlp_params(hidden, width)
    router = linear_params(hidden, experts, bias=False)
    shared = gated_mlp_params(hidden, width)
    dense = gated_mlp_params(hidden, dense_width)
    layers = []
    for index in range(num_layers):
        if index in moe_layers:
            layers.append(LayerCount(total=attention + norms + router + experts * expert + shared,
                                     active=attention + norms + router + top_k * expert + shared, moe=True))
        else:
            layers.append(LayerCount(total=attention + norms + dense, active=attention + norms + dense))
    moe = MoeShape(num_experts=experts, experts_per_token=top_k, num_shared_experts=1, expert_params=expert,
                   intermediate_size=width) if moe_layers else None

    chunk, chunked = _chunked_layers(text, num_layers)
    final = rms_norm_params(hidden) + (0 if tied else vocab * hidden)
    return assemble(text, model_type=model_type, num_layers=num_layers, hidden=hidden, intermediate=dense_width,
                    heads=heads, kv_heads=kv_heads, head_dim=head_dim, vocab=vocab, max_positions=max_positions,
                    tied=tied, embedding_params=vocab * hidden, final_params=final, layers=layers, moe=moe,
                    sliding_window=chunk, sliding_layers=chunked)


def _chunked_layers(text: ConfigReader, num_layers: int) -> tuple[int | None, tuple[bool, ...]]:
    """Returns (chunk size, per-layer flags) of the layers that attend within chunks (RoPE layers)."""
    # Llama4TextConfig default 8192; an explicit null turns chunking off (every layer global).
    if "attention_chunk_size" in text.data and not text.has("attention_chunk_size"):
        return None, ()
    chunk = text.integer("attention_chunk_size", default=8192, maximum=1 << 30)
    types = text.str_list("layer_types")
    if types is not None:
        if len(types) != num_layers:
            raise text.error("layer_types", f"{len(types)} entries", f"one entry per layer ({num_layers})")
        for index, kind in enumerate(types):
            if kind not in ("chunked_attention", "full_attention"):
                raise text.error(f"layer_types[{index}]", kind, "chunked_attention or full_attention")
        return chunk, tuple(kind == "chunked_attention" for kind in types)
    rope = text.int_list("no_rope_layers", maximum=1)
    if rope:
        if len(rope) != num_layers:
            raise text.error("no_rope_layers", f"{len(rope)} entries", f"one 0/1 entry per layer ({num_layers})")
        return chunk, tuple(flag == 1 for flag in rope)
    interval = text.integer("no_rope_layer_interval", default=4, maximum=num_layers + 1)
    return chunk, tuple((index + 1) % interval != 0 for index in range(num_layers))


def llama4_vision_params(vision: ConfigReader, *, text_hidden: int) -> int:
    """Returns the scalars of Llama4VisionModel plus the multi-modal projector into the text width."""
    hidden = vision.integer("hidden_size")
    width = vision.integer("intermediate_size")
    layers = vision.integer("num_hidden_layers", minimum=0)
    channels = vision.integer("num_channels")
    patch = vision.integer("patch_size", maximum=1 << 12)
    image = vision.integer("image_size", maximum=1 << 16)
    projector_in = vision.integer("projector_input_dim")
    projector_out = vision.integer("projector_output_dim")
    output = vision.integer("vision_output_dim")
    # Llama4UnfoldConvolution: a bias-free Linear over each flattened patch; class embedding;
    # positional_embedding_vlm over (image // patch)^2 + 1 positions; layernorm_pre and _post.
    embeddings = (channels * patch * patch * hidden + hidden + ((image // patch) ** 2 + 1) * hidden
                  + 2 * layer_norm_params(hidden))
    # Llama4VisionEncoderLayer: q/k/v/o with biases, fc1/fc2 with biases, two LayerNorms.
    layer = (4 * linear_params(hidden, hidden, bias=True) + linear_params(hidden, width, bias=True)
             + linear_params(width, hidden, bias=True) + 2 * layer_norm_params(hidden))
    # Llama4VisionPixelShuffleMLP -> Llama4VisionMLP2: fc1 (intermediate -> projector_input_dim) and
    # fc2 (projector_output_dim -> projector_output_dim), bias-free.
    adapter = width * projector_in + projector_out * projector_out
    # Llama4MultiModalProjector: linear_1 (vision_output_dim -> text hidden), bias-free.
    projector = output * text_hidden
    return embeddings + layers * layer + adapter + projector


def parse_llama4(cfg: ConfigReader, model_type: str) -> ModelSpec:
    """Returns the ModelSpec of a Llama 4 config: the wrapper (llama4) or its text model (llama4_text)."""
    if model_type == "llama4_text":
        return _text_params(cfg, model_type)
    text = sub_config(cfg, "text_config", {})
    if text is None:
        raise cfg.error("text_config", None, "the language model's config (Llama4ForConditionalGeneration)")
    spec = _text_params(text, model_type)
    vision = sub_config(cfg, "vision_config", LLAMA4_VISION_DEFAULTS)
    vision_params = 0 if vision is None else llama4_vision_params(vision, text_hidden=spec.hidden_size)
    return replace(spec, name=cfg.source, vision_params=vision_params)
