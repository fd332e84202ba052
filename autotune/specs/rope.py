"""The context a config's RoPE scaling extends a model to (`rope_scaling` in config.json).

Hugging Face transformers documents `rope_scaling.factor` as: "In most scaling types, a factor of
x will enable the model to handle sequences of length x * original maximum pre-trained length"
(LlamaConfig / PretrainedConfig docs, `rope_scaling`), with `original_max_position_embeddings`
naming that pre-trained length where the config gives it. vLLM applies the same rule when it
derives a model's longest context (`_get_and_verify_max_len`, vllm/config): for every scaling
type but `llama3`, `longrope` and `su`, the limit is the factor times the pre-trained length
(`original_max_position_embeddings` for yarn, `max_position_embeddings` otherwise). `llama3`
(and `longrope`) configs already state the extended length in `max_position_embeddings`
(Llama 3.1: factor 8 over 8192, max_position_embeddings 131072), so they extend nothing more.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from autotune.specs.fields import check_float, check_int

#: Scaling types whose `factor` multiplies the pre-trained length (transformers ROPE_INIT_FUNCTIONS).
EXTENDING_TYPES: tuple[str, ...] = ("linear", "dynamic", "yarn")
#: The largest context we accept a config to claim (1 << 30 tokens, the max_position_embeddings bound).
_MAX_POSITIONS = 1 << 30


def rope_extended_positions(config: Mapping[str, Any], *, max_positions: int, source: str) -> int:
    """Returns the positions (tokens) the config's RoPE scaling extends the model to; 0 when none.

    `rope_parameters` is the name transformers 5 gives `rope_scaling`; either is read.
    """
    scaling = config.get("rope_scaling") or config.get("rope_parameters")
    if not isinstance(scaling, Mapping):
        return 0
    key = "rope_scaling" if config.get("rope_scaling") else "rope_parameters"
    rope_type = scaling.get("rope_type", scaling.get("type"))
    if rope_type not in EXTENDING_TYPES or scaling.get("factor") is None:
        return 0
    factor = check_float(scaling["factor"], field=f"{key}.factor", source=source, minimum=0.0, maximum=1e6)
    original = scaling.get("original_max_position_embeddings")
    base = max_positions if original is None else check_int(
        original, field=f"{key}.original_max_position_embeddings", source=source, maximum=_MAX_POSITIONS)
    return min(int(base * factor), _MAX_POSITIONS)
