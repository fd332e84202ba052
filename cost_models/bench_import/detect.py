"""Which benchmark tool wrote a result file: parsing, format detection, and the reader of each format."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from autotune.errors import InputError
from autotune.specs.fields import read_text
from cost_models.bench_import import aiperf, guidellm, trtllm, vllm
from cost_models.bench_import.runs import BenchRun, SkippedRun

#: Format name (`--format`) -> the tool's name in messages.
FORMATS: dict[str, str] = {
    "vllm": "vllm bench serve --save-result (and benchmarks/benchmark_serving.py)",
    "guidellm": "GuideLLM report",
    "aiperf": "AIPerf profile export",
    "genai-perf": "genai-perf profile export",
    "trtllm-bench": "trtllm-bench --report_json",
}


def parse(path: Path) -> Any:
    """Returns the parsed JSON of a result file: one document, or a list for JSON lines (vLLM --append-result)."""
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as first:
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) > 1:
            try:
                return [json.loads(line) for line in lines]
            except json.JSONDecodeError:
                pass
        raise InputError(source=str(path), has_value=False,
                         expected=f"a JSON result file (not JSON: {first.msg} at line {first.lineno})") from None


def detect(data: Any) -> str | None:
    """Returns the format name of a parsed result file, or None when it is no known tool's."""
    if trtllm.looks_like(data):
        return "trtllm-bench"
    if guidellm.looks_like(data):
        return "guidellm"
    if aiperf.looks_like(data):
        return "aiperf" if aiperf.tool_of(data) == aiperf.AIPERF else "genai-perf"
    if vllm.looks_like(data):
        return "vllm"
    return None


def read_runs(path: Path, *, format: str | None = None) -> tuple[str, list[BenchRun], list[SkippedRun]]:
    """Returns the format and the runs of one result file; `format` forces the reader (None: detected)."""
    if format is not None and format not in FORMATS:
        raise InputError(source="--format", value=format, expected="one of " + ", ".join(FORMATS))
    data = parse(path)
    found = detect(data)
    source = str(path)
    if format is None:
        if found is None:
            keys = ", ".join(sorted(data)[:8]) if isinstance(data, dict) else type(data).__name__
            raise InputError(source=source, has_value=False,
                             expected="a result file of " + ", ".join(FORMATS.values())
                                      + f" (its top-level keys: {keys or 'none'})")
        format = found
    elif found is not None and found != format and {found, format} != {"aiperf", "genai-perf"}:
        raise InputError(source=source, value=FORMATS[found], expected=f"a {FORMATS[format]} (--format {format})")
    if format == "vllm":
        runs, skipped = vllm.read(data, source=source)
    elif format == "guidellm":
        runs, skipped = guidellm.read(data, source=source)
    elif format == "trtllm-bench":
        runs, skipped = trtllm.read(data, source=source)
    else:
        runs, skipped = aiperf.read(data, source=source,
                                    tool=aiperf.AIPERF if format == "aiperf" else aiperf.GENAI_PERF)
    return format, runs, skipped
