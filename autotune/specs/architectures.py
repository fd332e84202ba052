"""From a config.json mapping to a ModelSpec: dispatch on `model_type`.

Each supported `model_type` maps to the parser of its family; an unknown one is an
`InputError` that lists the supported types.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from autotune.errors import InputError
from autotune.specs.arch_common import ConfigReader
from autotune.specs.arch_deepseek import DEEPSEEK_TYPES, parse_deepseek
from autotune.specs.arch_exaone import parse_exaone, parse_exaone4, parse_exaone_moe
from autotune.specs.arch_gpt import parse_falcon, parse_gpt_neox, parse_gptj, parse_opt
from autotune.specs.arch_gpt_oss import parse_gpt_oss
from autotune.specs.arch_llama import LLAMA_STYLE_TYPES, parse_llama_style
from autotune.specs.arch_llama4 import LLAMA4_TYPES, parse_llama4
from autotune.specs.arch_multimodal import parse_gemma3
from autotune.specs.arch_solar import parse_solar_open
from autotune.specs.model import ModelSpec
from autotune.specs.quantization import parse_quantization
from autotune.specs.rope import rope_extended_positions

_Parser = Callable[[ConfigReader, str], ModelSpec]

_PARSERS: dict[str, _Parser] = {
    **{model_type: parse_llama_style for model_type in LLAMA_STYLE_TYPES},
    **{model_type: parse_deepseek for model_type in DEEPSEEK_TYPES},
    "gptj": parse_gptj,
    "gpt_neox": parse_gpt_neox,
    "falcon": parse_falcon,
    "opt": parse_opt,
    "gpt_oss": parse_gpt_oss,
    "exaone": parse_exaone,
    "exaone4": parse_exaone4,
    "exaone_moe": parse_exaone_moe,
    "gemma3": parse_gemma3,
    "solar_open": parse_solar_open,
    **{model_type: parse_llama4 for model_type in LLAMA4_TYPES},
}

#: Old names a `model_type` field may carry for a supported family (Falcon before its
#: transformers port was published as RefinedWeb / RefinedWebModel).
_ALIASES: dict[str, str] = {"RefinedWeb": "falcon", "RefinedWebModel": "falcon"}

SUPPORTED_MODEL_TYPES: tuple[str, ...] = tuple(sorted(_PARSERS))


def model_spec_from_config(config: Mapping[str, Any], *, source: str) -> ModelSpec:
    """Returns the ModelSpec a Hugging Face config.json mapping describes (named `source`)."""
    cfg = ConfigReader(config, source)
    model_type = config.get("model_type")
    expected = "one of the supported model types: " + ", ".join(SUPPORTED_MODEL_TYPES)
    if model_type is None:
        raise InputError(source=source, field="model_type", has_value=False, expected=expected)
    if not isinstance(model_type, str):
        raise InputError(source=source, field="model_type", value=model_type, expected=expected)
    model_type = _ALIASES.get(model_type, model_type)
    parser = _PARSERS.get(model_type)
    if parser is None:
        raise InputError(source=source, field="model_type", value=model_type, expected=expected)
    spec = parser(cfg, model_type)
    extended = rope_extended_positions(config, max_positions=spec.max_position_embeddings, source=source)
    return replace(spec, rope_extended_positions=extended, quantization=parse_quantization(config, source=source))
