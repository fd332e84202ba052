"""Reading measurement CSVs (the calibration file's columns) into resolved rows the model can predict.

`model_id` resolves as a preset (short name or Hugging Face id) or as a path to a
config.json relative to the CSV's folder; `hardware_id` as a hardware preset. Rows the
model cannot use are kept aside with the reason (variable lengths, unknown model, ...).
The shipped files (package data) are named `builtin:calibration` and `builtin:extra`, so the
commands find them from any working directory.
"""
from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

from autotune.errors import InputError
from autotune.specs.dtypes import USER_DTYPES
from autotune.specs.fields import read_text
from autotune.specs.hardware import HardwareSpec
from autotune.specs.hardware_loader import load_hardware
from autotune.specs.model import ModelSpec
from autotune.specs.model_loader import load_model

REQUIRED_COLUMNS = ("row_id", "model_id", "hardware_id", "dtype", "tensor_parallel", "pipeline_parallel",
                    "data_parallel", "input_len", "output_len", "batch_or_concurrency", "load_type",
                    "throughput_output_tok_s_total", "ttft_ms", "tpot_or_itl_ms", "e2e_latency_s")

#: load_type -> regime the model predicts (issue #3, part 4; `online_request_rate`: issue #9, section 2).
LOAD_TYPES = ("offline_max_throughput", "static_batch", "online_fixed_concurrency",
              "batch1_first_token_latency", "static_batch_e2e_latency", "online_request_rate")
#: Load types the serving simulator predicts (closed loop at a concurrency, open loop at a request rate).
SERVING_LOAD_TYPES = ("online_fixed_concurrency", "online_request_rate")
#: Optional column of `online_request_rate` rows: the mean arrival rate (requests/s, Poisson arrivals).
RATE_COLUMN = "request_rate_per_s"

#: vLLM's engine ceiling on sequences in flight when a row states none (vLLM EngineArgs max_num_seqs default 256).
VLLM_DEFAULT_MAX_NUM_SEQS = 256

#: KV-cache format a published run used for each weight format. 4-bit checkpoints keep an
#: 8-bit (NVFP4, ModelOpt recipes: FP8 KV cache) or 16-bit (INT4 AWQ/GPTQ, W4A16) cache:
#: TensorRT-LLM's quantization guide makes an NVFP4 KV cache a separate, opt-in ModelOpt
#: recipe (nvidia.github.io/TensorRT-LLM/features/quantization.html, "NVFP4 KV Cache").
KV_DTYPE_OF_WEIGHTS = {"fp4": "fp8", "int4": "fp16"}

#: trtllm-bench's engine tuning (TensorRT-LLM tensorrt_llm/bench/build/tuning.py, calc_engine_setting and
#: finetune_setting): the KV cache share of free memory it assumes, its caps on requests and tokens, and the
#: rounding tiers of max_num_tokens (minimum 2048; steps of 256 below 4096, 512 below 8192, 1024 above).
TRTLLM_BENCH_KV_FRACTION = 0.95
TRTLLM_BENCH_MAX_REQUESTS = 4096
TRTLLM_BENCH_MAX_TOKENS = 32768
TRTLLM_BENCH_MIN_TOKENS = 2048
GIB = 1024.0 ** 3
#: Bytes per weight trtllm-bench assumes for the formats it tunes (tuning.py BYTES_PER_ELEM: no quantization,
#: FP8, NVFP4); other formats keep TensorRT-LLM's BuildConfig defaults.
TRTLLM_BENCH_WEIGHT_BYTES = {"fp16": 2.0, "bf16": 2.0, "fp8": 1.0, "fp4": 0.5}

#: The measurement files shipped as package data, by the name `builtin:NAME` gives them.
DATA_DIR = Path(__file__).resolve().parent / "data"
BUILTIN_MEASUREMENTS: dict[str, Path] = {
    "calibration": DATA_DIR / "calibration.csv",
    "extra": DATA_DIR / "measurements_extra.csv",
    "moe": DATA_DIR / "measurements_moe.csv",
}
BUILTIN_PREFIX = "builtin:"

_MAX_SEQS = re.compile(r"max[ _-]?num[ _-]?seqs[ =:]*(\d+)", re.IGNORECASE)
_MAX_TOKENS = re.compile(r"max[ _-]?num[ _-]?tokens[ =:]*(\d+)", re.IGNORECASE)

#: Optional columns: the MoE degrees a row ran (empty: 1) and the KV-cache format when the run states one.
MOE_COLUMNS = ("expert_parallel", "attention_data_parallel")
KV_DTYPE_COLUMN = "kv_cache_dtype"
#: Optional column: "true" when the engine balanced its attention DP ranks step by step (TensorRT-LLM
#: attention_dp_config enable_balance); empty or "false": round-robin placement, the engines' default.
ADP_BALANCE_COLUMN = "attention_dp_balance"
_TRUE = frozenset({"true", "yes", "1"})
#: Optional column: "mean" when `input_len`/`output_len` are the means of requests whose lengths varied
#: (or were not confirmed fixed), as `autotune import-bench` writes them; empty or "fixed": every request
#: had those lengths. The model prices fixed lengths, so such rows are skipped with that reason.
LENGTHS_COLUMN = "lengths"
LENGTHS_MEAN = "mean"


@dataclass(frozen=True, kw_only=True)
class MeasuredRow:
    """One usable measurement, its specs resolved, its figures in seconds and tokens/s."""

    row_id: str
    model_key: str
    hardware_key: str
    model: ModelSpec
    hardware: HardwareSpec
    dtype: str
    kv_dtype: str
    tp: int
    pp: int
    dp: int
    ep: int = 1
    """Expert-parallel groups per stage (column `expert_parallel`; empty: 1)."""
    adp: int = 1
    """Attention data-parallel groups per stage (column `attention_data_parallel`; empty: 1)."""
    adp_balanced: bool = False
    """True when the engine balanced its attention DP ranks (column `attention_dp_balance`)."""
    input_len: int
    output_len: int
    load_type: str
    batch: int | None
    """Sequences in flight over all replicas (None: the engine chooses, offline rows)."""
    engine_max_batch: int | None
    """The engine's ceiling on sequences in flight per replica when the row or framework states one."""
    engine_max_num_tokens: int | None = None
    """Tokens one engine step holds when the benchmark tool sized the engine (trtllm-bench); None: the default."""
    throughput_tokens_per_s: float | None
    ttft_s: float | None
    tpot_s: float | None
    e2e_latency_s: float | None
    request_rate_per_s: float | None = None
    """Mean Poisson arrival rate of an `online_request_rate` row (requests/s over all replicas)."""
    framework: str = ""
    """The row's `framework` column (engine and benchmark tool), as written."""


@dataclass(frozen=True, kw_only=True)
class SkippedRow:
    row_id: str
    reason: str


def measurements_path(name: str | Path) -> Path:
    """Returns the file a `--measurements` value names: `builtin:NAME` (a shipped file) or a path."""
    text = str(name)
    if not text.startswith(BUILTIN_PREFIX):
        return Path(name)
    key = text[len(BUILTIN_PREFIX):]
    if key not in BUILTIN_MEASUREMENTS:
        raise InputError(source="--measurements", value=text,
                         expected="a CSV path or one of " + ", ".join(BUILTIN_PREFIX + k for k in BUILTIN_MEASUREMENTS))
    return BUILTIN_MEASUREMENTS[key]


def builtin_name_of(path: str | Path) -> str | None:
    """Returns the builtin name (`calibration`, `extra`) of the file at `path`, or None for any other file."""
    resolved = measurements_path(path).resolve()
    return next((k for k, v in BUILTIN_MEASUREMENTS.items() if v.resolve() == resolved), None)


def read_measurements(path: str | Path) -> tuple[list[MeasuredRow], list[SkippedRow]]:
    """Returns the usable rows of the CSV at `path` (or `builtin:NAME`) and the skipped ones with their reasons."""
    file = measurements_path(path)
    text = read_text(file)
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(source=str(file), field=missing[0], has_value=False,
                         expected="the calibration file's columns: " + ", ".join(REQUIRED_COLUMNS))
    used: list[MeasuredRow] = []
    skipped: list[SkippedRow] = []
    models: dict[str, ModelSpec | str] = {}
    hardware: dict[str, HardwareSpec | str] = {}
    for number, raw in enumerate(reader, start=2):
        row_id = (raw.get("row_id") or "").strip() or f"line {number}"
        result = _resolve(raw, row_id, file.parent, models, hardware)
        (used if isinstance(result, MeasuredRow) else skipped).append(result)
    return used, skipped


def _resolve(raw: dict[str, str], row_id: str, folder: Path, models: dict, hardware: dict
             ) -> MeasuredRow | SkippedRow:
    load_type = (raw.get("load_type") or "").strip()
    if load_type not in LOAD_TYPES:
        return SkippedRow(row_id=row_id, reason=f"unknown load_type {load_type!r}")
    lengths = [_int(raw.get("input_len")), _int(raw.get("output_len"))]
    if (raw.get(LENGTHS_COLUMN) or "").strip().lower() == LENGTHS_MEAN:
        return SkippedRow(row_id=row_id, reason=f"variable lengths: input_len/output_len are means "
                                                f"(column {LENGTHS_COLUMN} {LENGTHS_MEAN})")
    if None in lengths:
        return SkippedRow(row_id=row_id, reason="variable or missing input/output lengths")
    degrees = [_int(raw.get(k) or "1") for k in ("tensor_parallel", "pipeline_parallel", "data_parallel")]
    if None in degrees:
        return SkippedRow(row_id=row_id, reason="non-integer parallel degrees")
    moe_degrees = [_int((raw.get(k) or "").strip() or "1") for k in MOE_COLUMNS]
    if None in moe_degrees:
        return SkippedRow(row_id=row_id, reason="non-integer expert or attention data-parallel degree")
    if any(degrees[0] % d for d in moe_degrees):
        return SkippedRow(row_id=row_id, reason="expert_parallel and attention_data_parallel must divide tensor_parallel")
    dtype = (raw.get("dtype") or "").strip().lower()
    if dtype not in USER_DTYPES:
        return SkippedRow(row_id=row_id, reason=f"unknown dtype {dtype!r}")
    model = _cached(models, (raw.get("model_id") or "").strip(), lambda key: _load_model(key, folder))
    if isinstance(model, str):
        return SkippedRow(row_id=row_id, reason=f"unknown model: {model}")
    device = _cached(hardware, (raw.get("hardware_id") or "").strip(), load_hardware)
    if isinstance(device, str):
        return SkippedRow(row_id=row_id, reason=f"unknown hardware: {device}")
    throughput = _float(raw.get("throughput_output_tok_s_total"))
    ttft_ms = _float(raw.get("ttft_ms"))
    tpot_ms = _float(raw.get("tpot_or_itl_ms"))
    e2e = _float(raw.get("e2e_latency_s"))
    batch_text = (raw.get("batch_or_concurrency") or "").strip()
    batch = _int(batch_text)
    rate = _float(raw.get(RATE_COLUMN))
    if load_type == "batch1_first_token_latency":
        batch = 1
    if load_type == "online_request_rate":
        if rate is None:
            return SkippedRow(row_id=row_id, reason=f"online_request_rate row without a positive {RATE_COLUMN}")
        batch = None
    elif load_type != "offline_max_throughput" and batch is None:
        return SkippedRow(row_id=row_id, reason=f"{load_type} row without an integer batch")
    has_figure = {
        "offline_max_throughput": throughput is not None,
        "static_batch": throughput is not None,
        "online_fixed_concurrency": throughput is not None or tpot_ms is not None,
        "online_request_rate": throughput is not None or tpot_ms is not None or ttft_ms is not None,
        "batch1_first_token_latency": ttft_ms is not None,
        "static_batch_e2e_latency": tpot_ms is not None or e2e is not None or throughput is not None,
    }[load_type]
    if not has_figure:
        return SkippedRow(row_id=row_id, reason=f"no measured figure for {load_type}")
    tp, pp, dp = degrees
    kv_dtype = (raw.get(KV_DTYPE_COLUMN) or "").strip().lower() or KV_DTYPE_OF_WEIGHTS.get(dtype, dtype)
    if kv_dtype not in USER_DTYPES:
        return SkippedRow(row_id=row_id, reason=f"unknown kv_cache_dtype {kv_dtype!r}")
    stated_tokens = _MAX_TOKENS.search(batch_text)
    return MeasuredRow(
        row_id=row_id, model_key=(raw.get("model_id") or "").strip(),
        hardware_key=(raw.get("hardware_id") or "").strip(), model=model, hardware=device,
        dtype=dtype, kv_dtype=kv_dtype, tp=tp, pp=pp, dp=dp, ep=moe_degrees[0], adp=moe_degrees[1],
        adp_balanced=(raw.get(ADP_BALANCE_COLUMN) or "").strip().lower() in _TRUE,
        input_len=lengths[0], output_len=lengths[1],
        load_type=load_type, batch=batch, engine_max_batch=_engine_cap(batch_text, raw.get("framework") or ""),
        engine_max_num_tokens=(int(stated_tokens.group(1)) if stated_tokens else
                               trtllm_bench_max_num_tokens(model, device, dtype, tp, pp, lengths[0], lengths[1])
                               if "trtllm-bench" in batch_text else None),
        throughput_tokens_per_s=throughput, ttft_s=None if ttft_ms is None else ttft_ms / 1e3,
        tpot_s=None if tpot_ms is None else tpot_ms / 1e3, e2e_latency_s=e2e,
        request_rate_per_s=rate if load_type == "online_request_rate" else None,
        framework=(raw.get("framework") or "").strip())


def trtllm_bench_max_num_tokens(model: ModelSpec, hardware: HardwareSpec, dtype: str, tp: int, pp: int,
                                input_len: int, output_len: int) -> int | None:
    """Returns the max_num_tokens trtllm-bench builds an engine with for this model, layout and dataset.

    TensorRT-LLM tensorrt_llm/bench/build/build.py and tuning.py (calc_engine_setting,
    finetune_setting): the requests that fit are estimated from the whole TP x PP group's
    memory minus the weights (95% of it for KV, at least one KV head per TP rank), capped at
    4096 and divided by PP; one step's tokens are that batch times (1 + ISL / OSL), capped at
    32768, then rounded up to its tiers (at least 2048). FP8 and NVFP4 engines get an FP8 KV
    cache. The device memory is the preset's usable capacity (the tool asks the driver).
    None for formats the tool does not tune (it keeps the BuildConfig default).
    """
    weight_bytes = TRTLLM_BENCH_WEIGHT_BYTES.get(dtype)
    if weight_bytes is None:
        return None
    kv_bytes = 1.0 if dtype in ("fp8", "fp4") else 2.0
    per_token_gib = 2.0 * model.num_layers * max(tp, model.num_key_value_heads) * model.head_dim * kv_bytes / GIB
    free_gib = hardware.memory_capacity_bytes * tp * pp / GIB - model.total_params * weight_bytes / GIB
    requests = max(free_gib, 0.0) * TRTLLM_BENCH_KV_FRACTION / max(per_token_gib * (input_len + output_len), 1e-30)
    batch = min(requests, TRTLLM_BENCH_MAX_REQUESTS) / pp
    tokens = min(batch * (1.0 + input_len / output_len), TRTLLM_BENCH_MAX_TOKENS)
    if tokens < 4096:
        return max(TRTLLM_BENCH_MIN_TOKENS, 256 * math.ceil(tokens / 256))
    if tokens < 8192:
        return 512 * math.ceil(tokens / 512)
    return 1024 * math.ceil(tokens / 1024)


def _load_model(key: str, folder: Path) -> ModelSpec:
    local = folder / key
    if key and local.exists():
        return load_model(str(local))
    return load_model(key)


def _cached(cache: dict, key: str, loader):
    if key not in cache:
        try:
            cache[key] = loader(key)
        except InputError as exc:
            cache[key] = f"{key!r} ({str(exc).split(';')[0]})"
    return cache[key]


def _engine_cap(batch_text: str, framework: str) -> int | None:
    match = _MAX_SEQS.search(batch_text)
    if match:
        return int(match.group(1))
    if framework.strip().lower().startswith("vllm"):
        return VLLM_DEFAULT_MAX_NUM_SEQS
    return None


def _int(text: str | None) -> int | None:
    value = _float(text)
    if value is None or value != int(value) or value < 1:
        return None
    return int(value)


def _float(text: str | None) -> float | None:
    if text is None or not str(text).strip():
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None
