"""The weight format a checkpoint ships in: `quantization_config` of its config.json.

A pre-quantized checkpoint states how its tensors are stored; serving it "as is" means its
weights take these bytes, not the 16-bit size. What is read per `quant_method`:

- `fp8` (DeepSeek-V3, Qwen FP8; transformers FineGrainedFP8Config): every decoder Linear in FP8
  E4M3, one fp32 scale per `weight_block_size` block (DeepSeek-V3: 128 x 128).
- `mxfp4` (gpt-oss; transformers Mxfp4Config): only the MoE expert weights are MXFP4, 4-bit
  values with one 8-bit E8M0 scale per 32 (OCP Microscaling Formats spec v1.0, block size 32);
  `modules_to_not_convert` keeps attention, router, embeddings and LM head in bf16
  (huggingface.co/openai/gpt-oss-120b config.json). The OpenAI gpt-oss model card gives the
  resulting checkpoint: 60.8 GiB for gpt-oss-120b.
- `compressed-tensors` (llm-compressor; Red Hat / Neural Magic checkpoints): `config_groups` name
  the weights' `type` (float/int), `num_bits` and `group_size`; `kv_cache_scheme` an 8-bit KV.
- `awq`, `gptq`: `bits` (4 or 8) per weight, one fp16 scale and a packed zero point per `group_size`.
- `modelopt` (TensorRT Model Optimizer): `quant_algo` FP8 or NVFP4 (4-bit values, one FP8 scale
  per 16), `kv_cache_quant_algo` FP8.

Any other `quant_method` is refused: its bytes would be a guess.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from autotune.errors import InputError

#: Bytes of a 16-bit tensor: what quantized checkpoints keep unquantized (embeddings, LM head, norms).
UNQUANTIZED_BYTES = 2.0
#: The quant_method values this module reads.
KNOWN_METHODS: tuple[str, ...] = ("awq", "compressed-tensors", "fp8", "gptq", "modelopt", "mxfp4")
#: MXFP4: 4-bit elements plus one 8-bit shared scale per block of 32 (OCP MX spec v1.0).
MXFP4_BYTES = 0.5 + 1.0 / 32
#: NVFP4: 4-bit elements plus one FP8 (E4M3) scale per block of 16 (TensorRT Model Optimizer NVFP4).
NVFP4_BYTES = 0.5 + 1.0 / 16


@dataclass(frozen=True, kw_only=True)
class CheckpointQuantization:
    """How a pre-quantized checkpoint stores its weights."""

    method: str
    """`quant_method` as the config writes it (`mxfp4`, `fp8`, `compressed-tensors`, ...)."""
    dtype: str
    """The quantized tensors' format as a `--dtype` value: fp8, int8, int4 or fp4."""
    bytes_per_param: float
    """Bytes one quantized parameter takes, its block scales (and zero points) included."""
    experts_only: bool
    """True when only the routed-expert weights are quantized (gpt-oss MXFP4); the rest stays 16-bit."""
    unquantized: tuple[str, ...] = ()
    """Module patterns the config leaves unquantized (`modules_to_not_convert`, `ignore`, ...)."""
    kv_dtype: str | None = None
    """KV-cache format the checkpoint declares (fp8), or None: the model's 16-bit format."""

    def to_dict(self) -> dict[str, Any]:
        """Returns the facts as JSON-ready data."""
        return {"method": self.method, "dtype": self.dtype, "bytes_per_param": self.bytes_per_param,
                "experts_only": self.experts_only, "unquantized": list(self.unquantized),
                "kv_dtype": self.kv_dtype}


def parse_quantization(config: Mapping[str, Any], *, source: str) -> CheckpointQuantization | None:
    """Returns the checkpoint quantization a config.json declares, or None for an unquantized checkpoint."""
    quant = config.get("quantization_config")
    if quant is None:
        return None
    if not isinstance(quant, Mapping):
        raise InputError(source=source, field="quantization_config", value=quant, expected="a mapping")
    method = quant.get("quant_method")
    reader = _READERS.get(method) if isinstance(method, str) else None
    if reader is None:
        raise InputError(source=source, field="quantization_config.quant_method", value=method,
                         expected="a method whose stored bytes the tool knows: " + ", ".join(KNOWN_METHODS))
    return reader(quant, _Fields(quant, source))


@dataclass(frozen=True)
class _Fields:
    """Typed reads from the quantization_config mapping, errors naming the field."""

    data: Mapping[str, Any]
    source: str

    def error(self, key: str, value: object, expected: str) -> InputError:
        return InputError(source=self.source, field=f"quantization_config.{key}", value=value, expected=expected)

    def integer(self, key: str, value: Any, *, default: int | None = None, choices: tuple[int, ...] = (),
                minimum: int = 0) -> int | None:
        if value is None:
            return default
        bad = isinstance(value, bool) or not isinstance(value, int) or value < minimum
        if bad or (choices and value not in choices):
            expected = "one of " + ", ".join(map(str, choices)) if choices else f"an integer >= {minimum}"
            raise self.error(key, value, expected)
        return value

    def patterns(self, *keys: str) -> tuple[str, ...]:
        for key in keys:
            value = self.data.get(key)
            if value is None:
                continue
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise self.error(key, value, "a list of module names")
            return tuple(value)
        return ()


def _fp8(quant: Mapping[str, Any], f: _Fields) -> CheckpointQuantization:
    block = quant.get("weight_block_size")
    scale_bytes = 0.0
    if block is not None:
        if not (isinstance(block, list) and len(block) == 2 and all(isinstance(b, int) and b > 0 for b in block)):
            raise f.error("weight_block_size", block, "two positive integers, e.g. [128, 128]")
        scale_bytes = 4.0 / (block[0] * block[1])  # one fp32 scale per block (DeepSeek-V3 weight_scale_inv)
    return CheckpointQuantization(method="fp8", dtype="fp8", bytes_per_param=1.0 + scale_bytes, experts_only=False,
                                  unquantized=f.patterns("modules_to_not_convert", "ignored_layers"))


def _mxfp4(quant: Mapping[str, Any], f: _Fields) -> CheckpointQuantization:
    # transformers Mxfp4HfQuantizer replaces only the MoE experts; the rest stays bf16.
    return CheckpointQuantization(method="mxfp4", dtype="fp4", bytes_per_param=MXFP4_BYTES, experts_only=True,
                                  unquantized=f.patterns("modules_to_not_convert"))


def _grouped_int(bits: int, group_size: int | None, *, zero_point: bool) -> float:
    """Returns bytes per parameter of `bits`-bit integers with a 16-bit scale (and a `bits`-bit zero) per group."""
    per_group = UNQUANTIZED_BYTES + (bits / 8.0 if zero_point else 0.0)
    return bits / 8.0 + (per_group / group_size if group_size else 0.0)


def _awq_gptq(quant: Mapping[str, Any], f: _Fields) -> CheckpointQuantization:
    method = quant["quant_method"]
    bits = f.integer("bits", quant.get("bits", quant.get("w_bit")), choices=(4, 8))
    if bits is None:
        raise f.error("bits", None, "4 or 8")
    group = f.integer("group_size", quant.get("group_size", quant.get("q_group_size")), default=128, minimum=-1)
    group = group if group and group > 0 else None  # -1: one scale per output channel
    zero_point = bool(quant.get("zero_point", True)) if method == "awq" else not quant.get("sym", False)
    return CheckpointQuantization(method=method, dtype="int4" if bits == 4 else "int8",
                                  bytes_per_param=_grouped_int(bits, group, zero_point=zero_point), experts_only=False,
                                  unquantized=f.patterns("modules_to_not_convert"))


def _compressed_tensors(quant: Mapping[str, Any], f: _Fields) -> CheckpointQuantization:
    groups = quant.get("config_groups")
    if not isinstance(groups, Mapping) or not groups:
        raise f.error("config_groups", groups, "a mapping of quantization groups")
    # The first group's weights scheme: published checkpoints use one group for every Linear.
    name, group = next(iter(groups.items()))
    weights = group.get("weights") if isinstance(group, Mapping) else None
    if not isinstance(weights, Mapping):
        raise f.error(f"config_groups.{name}.weights", weights, "a mapping with num_bits and type")
    key = f"config_groups.{name}.weights"
    bits = f.integer(f"{key}.num_bits", weights.get("num_bits"), choices=(4, 8))
    if bits is None:
        raise f.error(f"{key}.num_bits", None, "4 or 8")
    kind = weights.get("type")
    group_size = f.integer(f"{key}.group_size", weights.get("group_size"))
    if kind == "float" and bits == 8:
        dtype, size = "fp8", 1.0
    elif kind == "float" and bits == 4:
        dtype, size = "fp4", NVFP4_BYTES  # nvfp4-pack-quantized: FP8 scale per 16
    elif kind == "int" and bits in (4, 8):
        dtype = "int4" if bits == 4 else "int8"
        size = _grouped_int(bits, group_size or None, zero_point=not weights.get("symmetric", True))
    else:
        raise f.error(f"{key}.type", kind, "'float' or 'int' with num_bits 4 or 8")
    kv = quant.get("kv_cache_scheme")
    kv_dtype = "fp8" if isinstance(kv, Mapping) and kv.get("num_bits") == 8 and kv.get("type") == "float" else None
    return CheckpointQuantization(method="compressed-tensors", dtype=dtype, bytes_per_param=size, experts_only=False,
                                  unquantized=f.patterns("ignore"), kv_dtype=kv_dtype)


def _modelopt(quant: Mapping[str, Any], f: _Fields) -> CheckpointQuantization:
    algo = quant.get("quant_algo")
    formats = {"FP8": ("fp8", 1.0), "NVFP4": ("fp4", NVFP4_BYTES)}
    if algo not in formats:
        raise f.error("quant_algo", algo, "FP8 or NVFP4")
    dtype, size = formats[algo]
    kv_dtype = "fp8" if quant.get("kv_cache_quant_algo") == "FP8" else None
    return CheckpointQuantization(method="modelopt", dtype=dtype, bytes_per_param=size, experts_only=False,
                                  unquantized=f.patterns("exclude_modules"), kv_dtype=kv_dtype)


_READERS = {"fp8": _fp8, "mxfp4": _mxfp4, "awq": _awq_gptq, "gptq": _awq_gptq,
            "compressed-tensors": _compressed_tensors, "modelopt": _modelopt}
