"""Reader of `vllm bench serve --save-result` JSON (and of the older benchmarks/benchmark_serving.py, same keys).

Keys, from vllm-project/vllm `vllm/benchmarks/serve.py` at commit 009e6d4a1cd6ba3fb2a9fc00f4ec06f5297232a1:
- `main()` writes `result_json`: `date`, `backend`, `label`, `model_id`, `tokenizer_id`, `num_prompts`,
  `request_rate` (a number, or the string "inf" for all requests at once), `burstiness` (1.0: Poisson
  arrivals, otherwise gamma), `max_concurrency` (null or the cap on requests in flight),
  `ramp_up_strategy` (only when a ramp was asked for), then the `benchmark()` result merged in;
  `--append-result` appends one such document per line.
- `benchmark()` returns `duration` (s), `completed`, `failed`, `total_input_tokens`,
  `total_output_tokens` (successful requests), `request_throughput`, `output_throughput`
  (output tokens/s), `total_token_throughput`, and per selected metric (`ttft`, `tpot`, `itl`, `e2el`)
  `mean_<m>_ms`, `median_<m>_ms`, `std_<m>_ms`, `p<P>_<m>_ms`. TPOT there excludes the first token.
- The per-request lists `input_lens` and `output_lens` are kept only with `--save-detailed`
  (`main()` deletes them otherwise): without them the file gives mean lengths only, and whether the
  lengths were fixed is not in the file (`--input-len/--output-len` of import-bench say so).

Load: `max_concurrency` N with `request_rate` "inf" is a closed loop of N requests in flight
(`online_fixed_concurrency`); a finite rate with `burstiness` 1 and no cap is Poisson arrivals
(`online_request_rate`); "inf" without a cap sends every prompt at once (`offline_max_throughput`).
A rate with a cap, gamma arrivals or a ramp are not one of our load types: skipped with the reason.

FuriosaAI's benchmark harness runs this tool: furiosa-ai/furiosa-perf `furiosa_perf/benchmark/vllm.py`
at commit 058546c6b49b2b8a4682c88ef1c483ab87f6b871 drives `vllm bench serve --save-result --result-dir=...`
against a `furiosa-llm serve` server, so furiosa-perf's result files are this format.
"""
from __future__ import annotations

import math
from typing import Any

from autotune.errors import InputError
from cost_models.bench_import.runs import (
    CLOSED_LOOP, OFFLINE, OPEN_LOOP, BenchRun, SkippedRun, Stat, get, number, stat_of_values)

TOOL = "vllm bench serve"
#: Keys every saved result of a generation benchmark has (`benchmark()`'s result dict).
SIGNATURE = ("completed", "duration", "output_throughput", "total_input_tokens", "total_output_tokens")


def looks_like(data: Any) -> bool:
    """Returns True when `data` (one document, or a list of appended ones) has vLLM's result keys."""
    docs = data if isinstance(data, list) else [data]
    return bool(docs) and all(isinstance(d, dict) and all(k in d for k in SIGNATURE) for d in docs)


def read(data: Any, *, source: str) -> tuple[list[BenchRun], list[SkippedRun]]:
    """Returns the runs of a vLLM result document, or of the documents of an --append-result file (a list)."""
    docs = data if isinstance(data, list) else [data]
    runs: list[BenchRun] = []
    skipped: list[SkippedRun] = []
    for index, doc in enumerate(docs, start=1):
        part = f"line {index}" if isinstance(data, list) else ""
        where = f"{source} ({part})" if part else source
        if not isinstance(doc, dict):
            raise InputError(source=where, value=type(doc).__name__, expected="a JSON object of vllm bench serve")
        run = _read_one(doc, source=where, part=part)
        (runs if isinstance(run, BenchRun) else skipped).append(run)
    return runs, skipped


def _read_one(doc: dict, *, source: str, part: str) -> BenchRun | SkippedRun:
    completed = int(number(doc, ["completed"], source=source))
    if completed < 1:
        return SkippedRun(part=part, reason="no request completed")
    load = _load(doc, source=source, part=part)
    if isinstance(load, SkippedRun):
        return load
    load_type, concurrency, rate, details = load
    duration_s = number(doc, ["duration"], source=source)
    return BenchRun(
        tool=TOOL, part=part, load_type=load_type, concurrency=concurrency, request_rate_per_s=rate,
        model=get(doc, ["model_id"]),
        input_tokens=_lengths(doc, "input_lens", "total_input_tokens", completed, source=source),
        output_tokens=_lengths(doc, "output_lens", "total_output_tokens", completed, source=source),
        output_throughput_tok_s=number(doc, ["output_throughput"], source=source),
        ttft_ms=_metric(doc, "ttft", source=source), tpot_ms=_metric(doc, "tpot", source=source),
        e2e_ms=_metric(doc, "e2el", source=source), completed=completed,
        failed=int(number(doc, ["failed"], source=source)) if "failed" in doc else None,
        duration_s=duration_s, details=details)


def _load(doc: dict, *, source: str, part: str):
    """Returns (load type, concurrency, rate, details) or a SkippedRun for loads no load type describes."""
    if doc.get("ramp_up_strategy") is not None:
        return SkippedRun(part=part, reason=f"request rate ramp ({doc['ramp_up_strategy']}): not a steady load")
    raw_rate = doc.get("request_rate", "inf")
    if raw_rate == "inf" or raw_rate is None:
        rate = math.inf
    else:
        rate = number(doc, ["request_rate"], source=source)
    cap = doc.get("max_concurrency")
    if cap is not None:
        cap = int(number(doc, ["max_concurrency"], source=source, minimum=1))
    burstiness = float(doc.get("burstiness", 1.0) or 1.0)
    if math.isinf(rate):
        if cap is not None:
            return CLOSED_LOOP, cap, None, ()
        prompts = doc.get("num_prompts")
        return OFFLINE, None, None, (f"all {prompts} prompts sent at once (request_rate inf, no max_concurrency)",)
    if cap is not None:
        return SkippedRun(part=part, reason=f"request rate {rate:g}/s with max_concurrency {cap}: "
                                            "neither a closed loop nor Poisson arrivals")
    if burstiness != 1.0:
        return SkippedRun(part=part, reason=f"burstiness {burstiness:g}: gamma arrivals, not Poisson")
    return OPEN_LOOP, None, rate, ()


def _lengths(doc: dict, per_request: str, total: str, completed: int, *, source: str) -> Stat:
    if isinstance(doc.get(per_request), list) and doc[per_request]:
        return stat_of_values(doc[per_request], source=source, field_name=per_request)
    return Stat(mean=number(doc, [total], source=source) / completed)


def _metric(doc: dict, name: str, *, source: str) -> Stat | None:
    """Returns the mean, median and p99 of one latency metric (ms), None when the run did not select it."""
    mean_key = f"mean_{name}_ms"
    if doc.get(mean_key) is None:
        return None

    def optional(key: str) -> float | None:
        return number(doc, [key], source=source) if doc.get(key) is not None else None
    return Stat(mean=number(doc, [mean_key], source=source), p50=optional(f"median_{name}_ms"),
                p99=optional(f"p99_{name}_ms"))
