"""Reader of GuideLLM's report JSON (`guidellm benchmark ... --outputs json`, default file benchmarks.json).

Keys, from vllm-project/guidellm (formerly neuralmagic/guidellm):
- `src/guidellm/benchmark/schemas/generative/report.py` @03820eba155d34eb602244535cc2412c32af6f54:
  `GenerativeBenchmarksReport` = `args` (the run's arguments; `model` per
  `src/guidellm/benchmark/schemas/base_args.py` @4e38be6c784148bcf2cc6823f7c8db476e47bcea) and
  `benchmarks`, a list of `GenerativeBenchmark`.
- `schemas/generative/benchmark.py` @03820eba: a benchmark has `type_` "generative_benchmark",
  `config` (`BenchmarkConfig` in `schemas/base.py` @14ffe9c6f1a2a3ab0f2bfccb306f916bde6ffde6, whose
  `strategy` is the scheduling strategy), `metrics`, and the computed `duration` (s, the measured window).
- `scheduler/strategies.py` @03820eba: `strategy.type_` is "synchronous" (one request at a time),
  "concurrent" (`streams` requests in flight), "throughput" (as many as possible, optional
  `max_concurrency`), "constant" or "poisson" (arrivals at `rate` requests/s).
- `schemas/generative/metrics.py` @06cef2910dc1517f863ce09ff118af07d463d055: `GenerativeMetrics` fields
  `request_totals` {successful, incomplete, errored, total}, `prompt_token_count`,
  `output_token_count`, `time_to_first_token_ms`, `inter_token_latency_ms` (per request, the first
  token excluded; `time_per_output_token_ms` includes it), `request_latency` (s),
  `output_tokens_per_second`, each a `StatusDistributionSummary` {successful, incomplete, errored, total}.
- `schemas/statistics.py` @03820eba: a `DistributionSummary` has `mean`, `median`, `min`, `max`,
  `count`, `total_sum` and `percentiles` {p001, ..., p50, ..., p99, p999}.

The successful requests' summaries are used. synchronous and concurrent runs are closed loops
(`online_fixed_concurrency` at 1 or `streams`), throughput runs `offline_max_throughput`, poisson
runs `online_request_rate`; constant-rate runs are not Poisson arrivals and are skipped.
"""
from __future__ import annotations

from typing import Any

from autotune.errors import InputError
from cost_models.bench_import.runs import (
    CLOSED_LOOP, OFFLINE, OPEN_LOOP, BenchRun, SkippedRun, Stat, get, need, number)

TOOL = "GuideLLM"


def looks_like(data: Any) -> bool:
    """Returns True when `data` is a GuideLLM report: a `benchmarks` list of objects with `metrics`."""
    benchmarks = data.get("benchmarks") if isinstance(data, dict) else None
    return (isinstance(benchmarks, list) and bool(benchmarks)
            and all(isinstance(b, dict) and "metrics" in b for b in benchmarks))


def read(data: Any, *, source: str) -> tuple[list[BenchRun], list[SkippedRun]]:
    """Returns one run per benchmark of the report (a sweep holds several)."""
    benchmarks = need(data, ["benchmarks"], source=source, expected="a list of GuideLLM benchmarks")
    if not isinstance(benchmarks, list) or not benchmarks:
        raise InputError(source=source, field="benchmarks", value=benchmarks, expected="a non-empty list")
    model = get(data, ["args", "model"])
    runs: list[BenchRun] = []
    skipped: list[SkippedRun] = []
    for index in range(len(benchmarks)):
        run = _read_one(data, index, model=model if isinstance(model, str) else None, source=source)
        (runs if isinstance(run, BenchRun) else skipped).append(run)
    return runs, skipped


def _read_one(data: dict, index: int, *, model: str | None, source: str) -> BenchRun | SkippedRun:
    base = ["benchmarks", index]
    part = f"benchmarks[{index}]"
    strategy = need(data, [*base, "config", "strategy", "type_"], source=source,
                    expected="the benchmark's scheduling strategy (GuideLLM's current report layout)")
    metrics = [*base, "metrics"]
    completed = int(number(data, [*metrics, "request_totals", "successful"], source=source))
    if completed < 1:
        return SkippedRun(part=part, reason="no request completed")
    concurrency = rate = None
    details: tuple[str, ...] = ()
    if strategy == "synchronous":
        load_type, concurrency = CLOSED_LOOP, 1
    elif strategy == "concurrent":
        load_type = CLOSED_LOOP
        concurrency = int(number(data, [*base, "config", "strategy", "streams"], source=source, minimum=1))
    elif strategy == "throughput":
        load_type = OFFLINE
        cap = get(data, [*base, "config", "strategy", "max_concurrency"])
        details = (f"GuideLLM throughput strategy (max_concurrency {cap})" if cap
                   else "GuideLLM throughput strategy (no concurrency cap)",)
    elif strategy == "poisson":
        load_type = OPEN_LOOP
        rate = number(data, [*base, "config", "strategy", "rate"], source=source)
    elif strategy == "constant":
        return SkippedRun(part=part, reason="constant-rate arrivals: not Poisson, no load type describes them")
    else:
        raise InputError(source=source, field=f"{part}.config.strategy.type_", value=strategy,
                         expected="synchronous, concurrent, throughput, constant or poisson")
    duration = get(data, [*base, "duration"])
    return BenchRun(
        tool=TOOL, part=part, load_type=load_type, concurrency=concurrency, request_rate_per_s=rate, model=model,
        input_tokens=_summary(data, [*metrics, "prompt_token_count"], source=source),
        output_tokens=_summary(data, [*metrics, "output_token_count"], source=source),
        output_throughput_tok_s=number(data, [*metrics, "output_tokens_per_second", "successful", "mean"],
                                       source=source),
        ttft_ms=_summary(data, [*metrics, "time_to_first_token_ms"], source=source),
        tpot_ms=_summary(data, [*metrics, "inter_token_latency_ms"], source=source),
        e2e_ms=_scaled(_summary(data, [*metrics, "request_latency"], source=source), 1e3),
        completed=completed, failed=_optional_int(data, [*metrics, "request_totals", "errored"]),
        duration_s=float(duration) if isinstance(duration, (int, float)) and duration > 0 else None,
        details=details)


def _summary(data: dict, path: list, *, source: str) -> Stat:
    """Returns the Stat of a StatusDistributionSummary's successful requests."""
    ok = [*path, "successful"]
    return Stat(mean=number(data, [*ok, "mean"], source=source), minimum=number(data, [*ok, "min"], source=source),
                maximum=number(data, [*ok, "max"], source=source),
                p50=number(data, [*ok, "median"], source=source),
                p99=number(data, [*ok, "percentiles", "p99"], source=source))


def _scaled(stat: Stat, factor: float) -> Stat:
    def times(value: float | None) -> float | None:
        return None if value is None else value * factor
    return Stat(mean=stat.mean * factor, minimum=times(stat.minimum), maximum=times(stat.maximum),
                p50=times(stat.p50), p99=times(stat.p99))


def _optional_int(data: dict, path: list) -> int | None:
    value = get(data, path)
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
