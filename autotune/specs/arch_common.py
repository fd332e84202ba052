"""Shared pieces of the per-architecture parsers: typed config reading and tensor counts.

A config.json is read once through `ConfigReader`, whose every getter names the file and
the field on bad input. The counting helpers return the number of scalars in the tensors a
Hugging Face checkpoint stores for one module (weights and biases), so that a model's total
is the sum of what its `model.safetensors` holds.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from autotune.errors import InputError
from autotune.specs.fields import check_int
from autotune.specs.model import ModelSpec

_MISSING = object()

#: Upper bounds that reject absurd values (a typo, an overflow) while admitting every
#: published model: the largest public configs are well below each (e.g. Llama-3.1-405B:
#: 126 layers, hidden 16384, FFN 53248; Gemma: vocab 256000; Llama-4: context 10M).
FIELD_MAXIMA: dict[str, int] = {
    "num_hidden_layers": 4_096,
    "hidden_size": 1 << 20,
    "intermediate_size": 1 << 22,
    "num_attention_heads": 1 << 16,
    "num_key_value_heads": 1 << 16,
    "head_dim": 1 << 16,
    "vocab_size": 1 << 24,
    "max_position_embeddings": 1 << 30,
    "num_experts": 1 << 16,
    "num_experts_per_tok": 1 << 16,
    "sliding_window": 1 << 30,
}
_DEFAULT_MAXIMUM = 1 << 24


@dataclass(frozen=True)
class ConfigReader:
    """A config.json mapping and the file it came from, read field by field with checks."""

    data: Mapping[str, Any]
    source: str

    def has(self, key: str) -> bool:
        """Returns True when `key` is present with a non-null value."""
        return self.data.get(key) is not None

    def integer(self, key: str, *aliases: str, default: Any = _MISSING, minimum: int = 1,
            maximum: int | None = None) -> int:
        """Returns the integer under `key` (or the first present alias), bounds checked."""
        for name in (key, *aliases):
            value = self.data.get(name)
            if value is not None:
                limit = maximum if maximum is not None else FIELD_MAXIMA.get(key, _DEFAULT_MAXIMUM)
                return check_int(value, field=name, source=self.source, minimum=minimum, maximum=limit)
        if default is _MISSING:
            raise InputError(source=self.source, field=key, has_value=False,
                             expected=f"a required integer >= {minimum}")
        return default

    def optional_integer(self, key: str, *aliases: str, minimum: int = 1,
                     maximum: int | None = None) -> int | None:
        """Returns the integer under `key` or an alias, or None when absent or null."""
        return self.integer(key, *aliases, default=None, minimum=minimum, maximum=maximum)

    def flag(self, key: str, *aliases: str, default: bool) -> bool:
        """Returns the boolean under `key` (or an alias); `default` when absent or null."""
        for name in (key, *aliases):
            value = self.data.get(name)
            if value is not None:
                if not isinstance(value, bool):
                    raise InputError(source=self.source, field=name, value=value, expected="true or false")
                return value
        return default

    def int_list(self, key: str, *, minimum: int = 0, maximum: int = 1 << 16) -> tuple[int, ...]:
        """Returns the list of integers under `key` (empty when absent or null)."""
        value = self.data.get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise InputError(source=self.source, field=key, value=value, expected="a list of integers")
        return tuple(check_int(v, field=f"{key}[{i}]", source=self.source, minimum=minimum, maximum=maximum)
                     for i, v in enumerate(value))

    def str_list(self, key: str) -> tuple[str, ...] | None:
        """Returns the list of strings under `key`, or None when absent or null."""
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InputError(source=self.source, field=key, value=value, expected="a list of strings")
        return tuple(value)

    def error(self, field: str, value: object, expected: str) -> InputError:
        """Returns an `InputError` about `field` of this config."""
        return InputError(source=self.source, field=field, value=value, expected=expected)


# ---------------------------------------------------------------------------------------
# Tensor counts (scalars per module, as stored in a checkpoint)


def linear_params(in_features: int, out_features: int, *, bias: bool) -> int:
    """Returns the scalars of a Linear layer: its weight, plus its bias when it has one."""
    return in_features * out_features + (out_features if bias else 0)


def rms_norm_params(dim: int) -> int:
    """Returns the scalars of an RMSNorm: a scale vector only."""
    return dim


def layer_norm_params(dim: int) -> int:
    """Returns the scalars of a LayerNorm: scale and shift vectors."""
    return 2 * dim


def gated_mlp_params(hidden: int, intermediate: int, *, bias: bool = False) -> int:
    """Returns the scalars of a gated FFN (gate, up, down projections; SwiGLU / GeGLU)."""
    return (2 * linear_params(hidden, intermediate, bias=bias)
            + linear_params(intermediate, hidden, bias=bias))


def gqa_attention_params(hidden: int, heads: int, kv_heads: int, head_dim: int, *,
                         qkv_bias: bool, o_bias: bool) -> int:
    """Returns the scalars of grouped-query attention: q, k, v and output projections."""
    q = linear_params(hidden, heads * head_dim, bias=qkv_bias)
    kv = 2 * linear_params(hidden, kv_heads * head_dim, bias=qkv_bias)
    o = linear_params(heads * head_dim, hidden, bias=o_bias)
    return q + kv + o


# ---------------------------------------------------------------------------------------
# Shape checks shared by the parsers


def attention_shape(cfg: ConfigReader, *, hidden: int, heads: int, kv_heads: int,
                    head_dim_keys: Sequence[str] = ("head_dim",)) -> int:
    """Returns the head dimension after checking heads against KV heads and the hidden size."""
    if kv_heads > heads or heads % kv_heads:
        raise cfg.error("num_key_value_heads", kv_heads,
                        f"a divisor of num_attention_heads ({heads})")
    explicit = None
    for key in head_dim_keys:
        explicit = cfg.optional_integer(key, maximum=FIELD_MAXIMA["head_dim"])
        if explicit is not None:
            break
    if explicit is not None:
        return explicit
    if hidden % heads:
        raise cfg.error("num_attention_heads", heads,
                        f"a divisor of hidden_size ({hidden}) when head_dim is not given")
    return hidden // heads


def decoder_shape(cfg: ConfigReader) -> tuple[int, int, int, int, int]:
    """Returns (layers, hidden, heads, kv_heads, head_dim) of a decoder config, checked by `attention_shape`."""
    num_layers = cfg.integer("num_hidden_layers")
    hidden = cfg.integer("hidden_size")
    heads = cfg.integer("num_attention_heads")
    kv_heads = cfg.integer("num_key_value_heads", default=heads)
    head_dim = attention_shape(cfg, hidden=hidden, heads=heads, kv_heads=kv_heads)
    return num_layers, hidden, heads, kv_heads, head_dim


def expert_count_check(cfg: ConfigReader, *, experts: int, top_k: int, top_k_key: str) -> None:
    """Raises `InputError` when a token is routed to more experts than the layer has."""
    if top_k > experts:
        raise cfg.error(top_k_key, top_k, f"at most the number of experts ({experts})")


def sliding_layers_from_types(cfg: ConfigReader, num_layers: int) -> tuple[bool, ...] | None:
    """Returns per-layer sliding flags from an explicit `layer_types` list, or None if absent."""
    types = cfg.str_list("layer_types")
    if types is None:
        return None
    if len(types) != num_layers:
        raise cfg.error("layer_types", f"{len(types)} entries",
                        f"one entry per layer ({num_layers})")
    allowed = ("full_attention", "sliding_attention")
    for i, kind in enumerate(types):
        if kind not in allowed:
            raise cfg.error(f"layer_types[{i}]", kind, "full_attention or sliding_attention")
    return tuple(kind == "sliding_attention" for kind in types)


@dataclass(frozen=True, kw_only=True)
class LayerCount:
    """Scalars of one decoder layer: all of them, the ones a token uses, and its FFN kind."""

    total: int
    active: int
    moe: bool = False


@dataclass(frozen=True, kw_only=True)
class MoeShape:
    """Routed-expert facts of a model (the same in every MoE layer)."""

    num_experts: int
    experts_per_token: int
    num_shared_experts: int
    expert_params: int
    intermediate_size: int


def assemble(cfg: ConfigReader, *, model_type: str, num_layers: int, hidden: int, intermediate: int,
             heads: int, kv_heads: int, head_dim: int, vocab: int, max_positions: int, tied: bool,
             embedding_params: int, final_params: int, layers: Sequence[LayerCount],
             moe: MoeShape | None = None, qk_head_dim: int = 0, v_head_dim: int = 0,
             kv_elements: int | None = None, kv_shardable: bool = True,
             sliding_window: int | None = None, sliding_layers: Sequence[bool] = (),
             lm_head_input_dim: int = 0) -> ModelSpec:
    """Returns the ModelSpec of a parsed config (named after its file; the loader renames it)."""
    if len(layers) != num_layers:
        raise ValueError(f"internal: {len(layers)} layer counts for {num_layers} layers")
    sliding = tuple(sliding_layers) if sliding_window is not None and any(sliding_layers) else ()
    spec = ModelSpec(
        name=cfg.source, hf_id=None, model_type=model_type, num_layers=num_layers, hidden_size=hidden,
        intermediate_size=intermediate, num_attention_heads=heads, num_key_value_heads=kv_heads,
        head_dim=head_dim, vocab_size=vocab, max_position_embeddings=max_positions,
        tie_word_embeddings=tied, embedding_params=embedding_params, final_params=final_params,
        layer_params=tuple(layer.total for layer in layers),
        layer_active_params=tuple(layer.active for layer in layers),
        num_experts=moe.num_experts if moe else 0,
        experts_per_token=moe.experts_per_token if moe else 0,
        num_shared_experts=moe.num_shared_experts if moe else 0,
        expert_params=moe.expert_params if moe else 0,
        moe_intermediate_size=moe.intermediate_size if moe else 0,
        moe_layers=tuple(layer.moe for layer in layers) if moe else (),
        attention_qk_head_dim=qk_head_dim, attention_v_head_dim=v_head_dim,
        kv_cache_elements_per_token_per_layer=(2 * kv_heads * head_dim if kv_elements is None
                                               else kv_elements),
        kv_cache_shardable=kv_shardable,
        sliding_window=sliding_window if sliding else None,
        sliding_layers=sliding,
        lm_head_input_dim=lm_head_input_dim if lm_head_input_dim != hidden else 0,
    )
    # The largest public checkpoints hold ~2e12 parameters; 1e14 catches overflowed inputs.
    if spec.total_params > 10**14 or not math.isfinite(float(spec.total_params)):
        raise InputError(source=cfg.source, value=spec.total_params,
                         expected="a model of at most 1e14 parameters (check the sizes in the config)")
    return spec
