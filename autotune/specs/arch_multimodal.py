"""Multimodal wrappers whose config.json nests the language model under `text_config`: gemma3, llama4.

The text model is counted by its family's parser; the vision tower and projector, which the
checkpoint stores and a server holds in memory (with the first pipeline stage), are counted
separately into `ModelSpec.vision_params`. Each count follows the Hugging Face `transformers`
module named below.

- gemma3 (`Gemma3ForConditionalGeneration`): `language_model` is Gemma3TextModel (the
  gemma3_text layout, LM head tied by default); `vision_tower` is a SigLIP vision model
  (`models/siglip/modeling_siglip.py`); `multi_modal_projector` holds `mm_input_projection_weight`
  (vision hidden x text hidden) and `mm_soft_emb_norm` (an RMSNorm of the vision width).
- llama4 (`Llama4ForConditionalGeneration`): see `autotune.specs.arch_llama4`; its vision model
  (`Llama4VisionModel`) and `multi_modal_projector` are counted here.

A wrapper without `vision_config` (a text-only copy of the config) counts no vision tower.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from autotune.specs.arch_common import ConfigReader, layer_norm_params, linear_params, rms_norm_params
from autotune.specs.arch_llama import parse_llama_style
from autotune.specs.model import ModelSpec

#: Gemma3TextConfig defaults (transformers `models/gemma3/configuration_gemma3.py`): a published
#: gemma3 config.json names only the fields that differ (google/gemma-3-4b-it's text_config gives
#: hidden_size, intermediate_size, num_hidden_layers, rope_scaling and sliding_window).
GEMMA3_TEXT_DEFAULTS: dict[str, Any] = {
    "vocab_size": 262_208, "hidden_size": 2304, "intermediate_size": 9216, "num_hidden_layers": 26,
    "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256, "max_position_embeddings": 131_072,
    "sliding_window": 4096,
}
#: SiglipVisionConfig defaults (transformers `models/siglip/configuration_siglip.py`).
SIGLIP_DEFAULTS: dict[str, Any] = {
    "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
    "num_channels": 3, "image_size": 224, "patch_size": 16, "vision_use_head": True,
}


def sub_config(cfg: ConfigReader, key: str, defaults: Mapping[str, Any]) -> ConfigReader | None:
    """Returns a reader of the nested mapping under `key` with `defaults` filled in, or None when absent."""
    value = cfg.data.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise cfg.error(key, value, "a mapping of the sub-model's config fields")
    return ConfigReader({**defaults, **{k: v for k, v in value.items() if v is not None}}, f"{cfg.source} ({key})")


def siglip_vision_params(vision: ConfigReader) -> int:
    """Returns the scalars of a SigLIP vision model (SiglipVisionModel: embeddings, encoder, post norm, head)."""
    hidden = vision.integer("hidden_size")
    width = vision.integer("intermediate_size")
    layers = vision.integer("num_hidden_layers", minimum=0)
    channels = vision.integer("num_channels")
    patch = vision.integer("patch_size", maximum=1 << 12)
    image = vision.integer("image_size", maximum=1 << 16)
    # SiglipVisionEmbeddings: Conv2d(channels -> hidden, patch x patch, with bias); one learned
    # position per patch, (image // patch)^2 of them.
    embeddings = channels * patch * patch * hidden + hidden + (image // patch) ** 2 * hidden
    # SiglipEncoderLayer: layer_norm1/2 (LayerNorm), q/k/v/out_proj with biases, fc1/fc2 with biases.
    layer = (2 * layer_norm_params(hidden) + 4 * linear_params(hidden, hidden, bias=True)
             + linear_params(hidden, width, bias=True) + linear_params(width, hidden, bias=True))
    total = embeddings + layers * layer + layer_norm_params(hidden)  # post_layernorm
    if vision.flag("vision_use_head", default=True):
        # SiglipMultiheadAttentionPoolingHead: probe, nn.MultiheadAttention (in_proj 3h x h + bias,
        # out_proj h x h + bias), a LayerNorm and a SiglipMLP.
        total += (hidden + 3 * hidden * hidden + 3 * hidden + linear_params(hidden, hidden, bias=True)
                  + layer_norm_params(hidden) + linear_params(hidden, width, bias=True)
                  + linear_params(width, hidden, bias=True))
    return total


def parse_gemma3(cfg: ConfigReader, model_type: str) -> ModelSpec:
    """Returns the ModelSpec of a Gemma 3 multimodal config (model_type gemma3): text model plus vision tower."""
    text = sub_config(cfg, "text_config", GEMMA3_TEXT_DEFAULTS)
    if text is None:
        raise cfg.error("text_config", None, "the language model's config (Gemma3ForConditionalGeneration)")
    data = dict(text.data)
    # Gemma3Config ties the LM head to the embeddings (tie_word_embeddings, default true) at the top level.
    if "tie_word_embeddings" not in data:
        data["tie_word_embeddings"] = cfg.flag("tie_word_embeddings", default=True)
    spec = parse_llama_style(ConfigReader(data, text.source), "gemma3_text")
    vision_params = 0
    vision = sub_config(cfg, "vision_config", SIGLIP_DEFAULTS)
    if vision is not None:
        vision_hidden = vision.integer("hidden_size")
        # Gemma3MultiModalProjector: mm_input_projection_weight and mm_soft_emb_norm.
        projector = vision_hidden * spec.hidden_size + rms_norm_params(vision_hidden)
        vision_params = siglip_vision_params(vision) + projector
    return replace(spec, name=cfg.source, model_type=model_type, vision_params=vision_params)
