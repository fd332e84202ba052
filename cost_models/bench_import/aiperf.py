"""Reader of AIPerf's `profile_export_aiperf.json` and genai-perf's `profile_export_genai_perf.json`.

AIPerf's export was designed to keep genai-perf's layout (ai-dynamo/aiperf
`src/aiperf/common/models/export_models.py` @26240f9e48bd11b1890ec0bfab778fd82481869f: "designed to mimic
the structure of the GenAI-Perf JSON output"), so one reader serves both:
- one top-level entry per metric tag, each {`unit`, `avg`, `p1` ... `p50` ... `p99`, `min`, `max`,
  `std`}: `request_throughput`, `request_latency`, `time_to_first_token`, `inter_token_latency`,
  `output_token_throughput` (tokens/sec), `input_sequence_length`, `output_sequence_length`,
  `request_count`, `benchmark_duration` (AIPerf's `JsonExportData`, same file);
- `input_config`: AIPerf writes its `UserConfig` (`src/aiperf/exporters/metrics_json_exporter.py`
  @047d59dd4bca43ff272f46c6b4af0ebb62cb8ad0, set fields only): `endpoint.model_names`,
  `loadgen.concurrency`, `loadgen.request_rate`, `loadgen.arrival_pattern`
  (`src/aiperf/common/config/loadgen_config.py` @199d8a36d92bef78b36df4780e77ed10a573640a; unset, it
  is Poisson: `LoadGeneratorDefaults.ARRIVAL_PATTERN` in `config_defaults.py`). genai-perf writes its
  parsed command-line arguments flat (triton-inference-server/perf_analyzer
  `genai-perf/genai_perf/export_data/json_exporter.py` @09628cd6d6e31409c5f9adee3bbefdd2d58ef16a:
  `input_config` = `vars(args)`): `model`, `concurrency`, `request_rate`.

`inter_token_latency` is a request's time per output token after the first. Lengths are fixed when
the sequence length's `min` equals its `max`. A concurrency alone is a closed loop; AIPerf's rate with
Poisson arrivals and no concurrency is an open loop. genai-perf's `--request-rate` runs through
perf_analyzer, whose arrival distribution the export does not state: skipped, as are a rate with a
concurrency cap and AIPerf's constant or gamma arrivals.
"""
from __future__ import annotations

from typing import Any

from autotune.errors import InputError
from cost_models.bench_import.runs import (
    CLOSED_LOOP, OPEN_LOOP, BenchRun, SkippedRun, Stat, get, need, number)

AIPERF = "AIPerf"
GENAI_PERF = "genai-perf"
#: Milliseconds per unit of the time metrics' `unit` field.
_MS_PER_UNIT = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3, "sec": 1e3}


def looks_like(data: Any) -> bool:
    """Returns True when `data` has the genai-perf/AIPerf metric entries."""
    return (isinstance(data, dict) and isinstance(data.get("output_token_throughput"), dict)
            and isinstance(data.get("request_throughput"), dict) and "unit" in data["request_throughput"])


def tool_of(data: Any) -> str:
    """Returns 'AIPerf' or 'genai-perf': AIPerf states its version or nests its load settings under `loadgen`."""
    nested = isinstance(get(data, ["input_config", "loadgen"]), dict)
    if isinstance(data, dict) and ("aiperf_version" in data or nested):
        return AIPERF
    return GENAI_PERF


def read(data: Any, *, source: str, tool: str | None = None) -> tuple[list[BenchRun], list[SkippedRun]]:
    """Returns the one run of a profile export (a tool's sweep writes one export per point)."""
    if not isinstance(data, dict):
        raise InputError(source=source, value=type(data).__name__, expected="a JSON object (a profile export)")
    tool = tool or tool_of(data)
    config = data.get("input_config") if isinstance(data.get("input_config"), dict) else {}
    if tool == AIPERF:
        concurrency = get(config, ["loadgen", "concurrency"])
        rate = get(config, ["loadgen", "request_rate"])
        pattern = str(get(config, ["loadgen", "arrival_pattern"], "poisson")).lower()
        names = get(config, ["endpoint", "model_names"])
    else:
        concurrency, rate, pattern = config.get("concurrency"), config.get("request_rate"), None
        names = config.get("model")
    model = names[0] if isinstance(names, list) and names else names if isinstance(names, str) else None
    if isinstance(concurrency, list):
        raise InputError(source=source, field="input_config.loadgen.concurrency", value=concurrency,
                         expected="one concurrency (a sweep's points are exported one file each)")
    load = _load(concurrency, rate, pattern, tool, source=source)
    if isinstance(load, SkippedRun):
        return [], [load]
    load_type, concurrency, rate, stated = load
    completed = get(data, ["request_count", "avg"])
    duration = get(data, ["benchmark_duration", "avg"])
    throughput = number(data, ["output_token_throughput", "avg"], source=source)
    run = BenchRun(
        tool=tool, part="", load_type=load_type, concurrency=concurrency, request_rate_per_s=rate,
        load_stated=stated, model=model,
        input_tokens=_lengths(data, "input_sequence_length", source=source),
        output_tokens=_lengths(data, "output_sequence_length", source=source),
        output_throughput_tok_s=throughput,
        ttft_ms=_times(data, "time_to_first_token", source=source),
        tpot_ms=_times(data, "inter_token_latency", source=source),
        e2e_ms=_times(data, "request_latency", source=source),
        completed=int(completed) if isinstance(completed, (int, float)) else None,
        duration_s=float(duration) if isinstance(duration, (int, float)) and duration > 0 else None)
    return [run], []


def _load(concurrency: Any, rate: Any, pattern: str | None, tool: str, *, source: str):
    """Returns (load type, concurrency, rate, stated) or a SkippedRun."""
    if rate is not None:
        rate = number({"r": rate}, ["r"], source=source)
        if concurrency is not None:
            return SkippedRun(part="", reason=f"request rate {rate:g}/s with concurrency {concurrency}: "
                                              "neither a closed loop nor Poisson arrivals")
        if tool == GENAI_PERF:
            return SkippedRun(part="", reason="genai-perf request-rate run: its arrival distribution "
                                              "(perf_analyzer's) is not stated in the export")
        if pattern != "poisson":
            return SkippedRun(part="", reason=f"{pattern} arrivals: not Poisson")
        return OPEN_LOOP, None, rate, True
    if concurrency is not None:
        return CLOSED_LOOP, int(number({"c": concurrency}, ["c"], source=source, minimum=1)), None, True
    # The export states neither: the flags must say how the load was generated.
    return "", None, None, False


def _lengths(data: dict, tag: str, *, source: str) -> Stat:
    entry = need(data, [tag], source=source, expected="the metric's {unit, avg, min, max, ...} entry")
    return Stat(mean=number(data, [tag, "avg"], source=source), minimum=_optional(entry, "min"),
                maximum=_optional(entry, "max"), p50=_optional(entry, "p50"), p99=_optional(entry, "p99"))


def _times(data: dict, tag: str, *, source: str) -> Stat | None:
    """Returns a time metric in milliseconds (None when the export lacks it: a non-streaming run has no TTFT)."""
    entry = data.get(tag)
    if not isinstance(entry, dict) or entry.get("avg") is None:
        return None
    unit = str(entry.get("unit", "ms")).lower()
    if unit not in _MS_PER_UNIT:
        raise InputError(source=source, field=f"{tag}.unit", value=entry.get("unit"),
                         expected="a time unit: " + ", ".join(_MS_PER_UNIT))
    scale = _MS_PER_UNIT[unit]

    def scaled(key: str) -> float | None:
        value = _optional(entry, key)
        return None if value is None else value * scale
    return Stat(mean=number(data, [tag, "avg"], source=source) * scale, minimum=scaled("min"),
                maximum=scaled("max"), p50=scaled("p50"), p99=scaled("p99"))


def _optional(entry: dict, key: str) -> float | None:
    value = entry.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
