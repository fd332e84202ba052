"""Workload: what the user serves (lengths, batch, SLOs, formats)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from autotune.errors import InputError
from autotune.specs.dtypes import USER_DTYPES
from autotune.specs.fields import check_float, check_int

if TYPE_CHECKING:
    from autotune.specs.model import ModelSpec

AUTO = "auto"

#: The KV-cache format engines run by default for a weight format, where it is not that format itself.
#: - int4 (AWQ/GPTQ, W4A16) and int8 (W8A8) are weight(/activation) formats: the engines cache K and V in
#:   the model's 16-bit dtype unless told otherwise (vLLM engine arguments, `--kv-cache-dtype`: "auto" uses
#:   the model data type; SGLang server arguments, `--kv-cache-dtype` default "auto" likewise).
#: - fp4 (NVFP4, TensorRT Model Optimizer) checkpoints ship an FP8 KV cache: their hf_quant_config.json
#:   holds `kv_cache_quant_algo: FP8` and TensorRT-LLM's KV dtype "auto" follows it, while an NVFP4 KV cache
#:   is a separate opt-in recipe (nvidia.github.io/TensorRT-LLM/features/quantization.html, "FP8 KV Cache",
#:   "NVFP4 KV Cache"). docs/cost-model.md and cost_models/measurements.py read the measured rows the same way.
DEFAULT_KV_DTYPE_OF_WEIGHTS: dict[str, str] = {"int4": "bf16", "int8": "bf16", "fp4": "fp8"}


@dataclass(frozen=True, kw_only=True)
class Workload:
    """Prompt and output lengths, batch per replica, latency SLOs and number formats."""

    input_len: int = 2048
    """Prompt tokens per request."""
    output_len: int = 512
    """Generated tokens per request."""
    batch: int | str = AUTO
    """Sequences per replica in flight, or 'auto' for the solver to choose."""
    ttft_ms: float | None = None
    """Time-to-first-token SLO in milliseconds (None: no limit)."""
    tpot_ms: float | None = None
    """Time-per-output-token SLO in milliseconds (None: no limit)."""
    dtype: str = "bf16"
    """Weight (and activation) format."""
    kv_dtype: str | None = None
    """KV-cache format; None: the engines' default for `dtype` (see `cache_dtype`)."""
    source: str = field(default="workload", compare=False)

    def __post_init__(self) -> None:
        src = self.source
        check_int(self.input_len, field="input_len", source=src, minimum=1, maximum=10_000_000)
        check_int(self.output_len, field="output_len", source=src, minimum=1, maximum=10_000_000)
        if self.batch != AUTO:
            check_int(self.batch, field="batch", source=src, minimum=1, maximum=1_000_000)
        for name in ("ttft_ms", "tpot_ms"):
            value = getattr(self, name)
            if value is not None:
                check_float(value, field=name, source=src, minimum=0.0, maximum=1e9)
        for name in ("dtype", "kv_dtype"):
            value = getattr(self, name)
            if value is not None and value not in USER_DTYPES:
                raise InputError(source=src, field=name, value=value, expected="one of " + ", ".join(USER_DTYPES))

    @property
    def cache_dtype(self) -> str:
        """Returns the KV-cache format in effect: `kv_dtype` when given, else the one engines run with `dtype`
        (bf16 for int4 and int8 weights, fp8 for fp4, else the weights' own format)."""
        if self.kv_dtype is not None:
            return self.kv_dtype
        return DEFAULT_KV_DTYPE_OF_WEIGHTS.get(self.dtype, self.dtype)

    @property
    def context_len(self) -> int:
        """Returns the longest context a request reaches (prompt plus output)."""
        return self.input_len + self.output_len


def default_formats(model: ModelSpec, served: Sequence[str]) -> tuple[str, str | None]:
    """Returns the (weight, KV-cache) formats a workload takes when the user names none.

    A pre-quantized checkpoint is served as it ships: its own weight format (gpt-oss: fp4 MXFP4
    experts; DeepSeek-V3: fp8) and the KV format it declares, else the model's 16-bit one (vLLM
    and SGLang `--kv-cache-dtype auto`). When the runtime (`served`, the space's formats) cannot
    serve that format, or the checkpoint is unquantized: bf16, and the KV default of bf16.
    """
    quant = model.quantization
    if quant is None or quant.dtype not in served:
        return "bf16", None
    return quant.dtype, quant.kv_dtype or "bf16"
