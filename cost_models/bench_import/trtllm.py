"""Reader of trtllm-bench's JSON report (`trtllm-bench ... throughput --report_json FILE`).

Keys, from NVIDIA/TensorRT-LLM `tensorrt_llm/bench/dataclasses/reporting.py`
@0249976575050d2c624a5f285683c66de311a3b7 (`ReportUtility.get_statistics_dict`):
- `engine`: `model`, `version` (TensorRT-LLM's), `backend`, `dtype` (e.g. "bfloat16"),
  `quantization` (quant_algo: "FP8", "NVFP4", "W4A16_AWQ", ... or null), `kv_cache_dtype`;
- `machine`: `name` of the first GPU (may be null);
- `world_info`: `tp_size`, `pp_size`, `ep_size`, `max_batch_size`, `max_num_tokens`;
- `request_info`: `num_requests`, `avg_num_concurrent_requests`, `avg_input_length`, `avg_output_length`;
- `performance`: `total_latency_ms`, `avg_request_latency_ms`, `system_output_throughput_tok_s`
  (output tokens, the first included, over the whole run);
- `streaming_metrics` (streaming runs only): `avg_ttft_ms`, `avg_tpot_ms`, `ttft_percentiles`, `tpot_percentiles`;
- `dataset`: `isl_stats` and `osl_stats` (`tensorrt_llm/bench/dataclasses/general.py`
  @0f5937738216d05e694484a94fd75dbbec6a1347, `DatasetMetadata`), percentile stats with `minimum`,
  `maximum`, `average`, `p50`, `p90`, `p95`, `p99`.

The report does not say whether `--concurrency` limited the requests in flight: without
`--concurrency` on import-bench a run is `offline_max_throughput` (trtllm-bench's default, every
request queued at once); with it, `online_fixed_concurrency`.
"""
from __future__ import annotations

from typing import Any

from autotune.errors import InputError
from cost_models.bench_import.runs import OFFLINE, BenchRun, SkippedRun, Stat, get, need, number

TOOL = "trtllm-bench"
#: Our weight format of each TensorRT-LLM quant_algo (tensorrt_llm/quantization/mode.py QuantAlgo names).
QUANT_DTYPE = {"fp8": "fp8", "fp8_block_scales": "fp8", "fp8_per_channel_per_token": "fp8", "nvfp4": "fp4",
               "w4a16_awq": "int4", "w4a16_gptq": "int4", "w4a16": "int4", "w4a8_awq": "int4",
               "w8a16": "int8", "w8a16_gptq": "int8"}
#: Our format of each unquantized torch dtype name.
TORCH_DTYPE = {"bfloat16": "bf16", "float16": "fp16", "half": "fp16"}


def looks_like(data: Any) -> bool:
    """Returns True when `data` has trtllm-bench's report sections."""
    return isinstance(data, dict) and all(isinstance(data.get(k), dict)
                                          for k in ("engine", "world_info", "performance"))


def read(data: Any, *, source: str) -> tuple[list[BenchRun], list[SkippedRun]]:
    """Returns the one run of a trtllm-bench report."""
    if not isinstance(data, dict):
        raise InputError(source=source, value=type(data).__name__, expected="a JSON object (a trtllm-bench report)")
    stated: dict[str, Any] = {}
    for key, name in (("tp", "tp_size"), ("pp", "pp_size"), ("ep", "ep_size")):
        stated[key] = int(number(data, ["world_info", name], source=source, minimum=1))
    for key, name in (("max_num_seqs", "max_batch_size"), ("max_num_tokens", "max_num_tokens")):
        value = get(data, ["world_info", name])
        if isinstance(value, int) and value > 0:
            stated[key] = value
    quant = get(data, ["engine", "quantization"])
    unquantized = str(get(data, ["engine", "dtype"])).lower()
    dtype = QUANT_DTYPE.get(str(quant).lower()) if quant else TORCH_DTYPE.get(unquantized)
    if dtype:
        stated["dtype"] = dtype
    kv = get(data, ["engine", "kv_cache_dtype"])
    if kv and QUANT_DTYPE.get(str(kv).lower()):
        stated["kv_dtype"] = QUANT_DTYPE[str(kv).lower()]
    version = get(data, ["engine", "version"])
    stated["engine"] = f"TensorRT-LLM {version}" if version else "TensorRT-LLM"
    device = get(data, ["machine", "name"])
    if device:
        stated["device"] = str(device)
    details = tuple(f"{label} {value}" for label, value in (
        ("engine quantization", quant), ("engine dtype", get(data, ["engine", "dtype"])),
        ("backend", get(data, ["engine", "backend"])),
        ("mean requests in flight", get(data, ["request_info", "avg_num_concurrent_requests"])))
        if value is not None)
    total_ms = number(data, ["performance", "total_latency_ms"], source=source)
    streaming = data.get("streaming_metrics") if isinstance(data.get("streaming_metrics"), dict) else None
    run = BenchRun(
        tool=TOOL, part="", load_type=OFFLINE, load_stated=False, model=get(data, ["engine", "model"]),
        input_tokens=_lengths(data, "isl_stats", "avg_input_length", source=source),
        output_tokens=_lengths(data, "osl_stats", "avg_output_length", source=source),
        output_throughput_tok_s=number(data, ["performance", "system_output_throughput_tok_s"], source=source),
        ttft_ms=_streaming(data, streaming, "avg_ttft_ms", "ttft_percentiles", source=source),
        tpot_ms=_streaming(data, streaming, "avg_tpot_ms", "tpot_percentiles", source=source),
        e2e_ms=Stat(mean=number(data, ["performance", "avg_request_latency_ms"], source=source)),
        completed=int(number(data, ["request_info", "num_requests"], source=source)),
        duration_s=total_ms / 1e3, stated=stated, details=details)
    return [run], []


def _lengths(data: dict, stats: str, average: str, *, source: str) -> Stat:
    entry = get(data, ["dataset", stats])
    if not isinstance(entry, dict):
        return Stat(mean=number(data, ["request_info", average], source=source))
    base = ["dataset", stats]
    return Stat(mean=number(data, [*base, "average"], source=source),
                minimum=number(data, [*base, "minimum"], source=source),
                maximum=number(data, [*base, "maximum"], source=source),
                p50=get(data, [*base, "p50"]), p99=get(data, [*base, "p99"]))


def _streaming(data: dict, streaming: dict | None, mean_key: str, percentiles: str, *, source: str) -> Stat | None:
    if streaming is None or streaming.get(mean_key) is None:
        return None
    need(data, ["streaming_metrics", mean_key], source=source)
    return Stat(mean=number(data, ["streaming_metrics", mean_key], source=source),
                p50=get(streaming, [percentiles, "p50"]), p99=get(streaming, [percentiles, "p99"]))
