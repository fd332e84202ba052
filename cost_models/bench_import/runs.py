"""What one benchmark result file measured, in the file's own terms: the readers' common output.

Each reader (`vllm.py`, `guidellm.py`, `aiperf.py`, `trtllm.py`) turns a parsed JSON document into
`BenchRun`s (one per measured load point) and `SkippedRun`s (load points no measurement load type
describes, with the reason). Times are converted to milliseconds here, whatever unit the tool wrote;
nothing is taken from flags at this stage (`rows.py` joins the two).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from autotune.errors import InputError

#: The load types a result file can describe (cost_models.measurements.LOAD_TYPES, docs/cost-model.md section 3).
CLOSED_LOOP = "online_fixed_concurrency"
OPEN_LOOP = "online_request_rate"
OFFLINE = "offline_max_throughput"


@dataclass(frozen=True, kw_only=True)
class Stat:
    """A figure's summary over the measured requests: its mean and what the tool gives of its spread."""

    mean: float
    minimum: float | None = None
    maximum: float | None = None
    p50: float | None = None
    p99: float | None = None

    @property
    def fixed(self) -> bool | None:
        """True when every request had the same value, False when they varied, None when the file does not say."""
        if self.minimum is None or self.maximum is None:
            return None
        return self.minimum == self.maximum


@dataclass(frozen=True, kw_only=True)
class BenchRun:
    """One measured load point of a result file (a file may hold several: a GuideLLM sweep)."""

    tool: str
    """The benchmark tool as the row's note names it ('vllm bench serve', 'GuideLLM', ...)."""
    part: str
    """Where in the file the run is ('' for a file of one run, 'benchmarks[2]', 'line 3')."""
    load_type: str
    concurrency: int | None = None
    """Requests in flight (closed loop), when the file states it."""
    request_rate_per_s: float | None = None
    """Mean Poisson arrival rate (open loop), when the file states it."""
    load_stated: bool = True
    """False when the file does not say how the load was generated (the flags must)."""
    model: str | None = None
    """The model name the file states (the served name), if any."""
    input_tokens: Stat | None = None
    output_tokens: Stat | None = None
    output_throughput_tok_s: float | None = None
    ttft_ms: Stat | None = None
    tpot_ms: Stat | None = None
    """Time per output token after the first (inter-token latency of a request)."""
    e2e_ms: Stat | None = None
    completed: int | None = None
    failed: int | None = None
    duration_s: float | None = None
    stated: Mapping[str, Any] = field(default_factory=dict)
    """What the file states about the deployment: keys 'tp', 'pp', 'ep', 'dtype', 'kv_dtype', 'engine',
    'device', 'max_num_seqs', 'max_num_tokens' (only those present)."""
    details: tuple[str, ...] = ()
    """Further facts for the row's note (the tool's own load description, a cap it ran with)."""


@dataclass(frozen=True, kw_only=True)
class SkippedRun:
    """A load point of a file that no measurement load type describes, with the reason."""

    part: str
    reason: str


def need(data: Any, path: Sequence[str | int], *, source: str, expected: str = "a number") -> Any:
    """Returns the value at `path` inside `data`; an InputError naming the file and the dotted field when absent."""
    value = data
    for key in path:
        if isinstance(key, int):
            ok = isinstance(value, list) and 0 <= key < len(value)
        else:
            ok = isinstance(value, Mapping) and key in value
        if not ok:
            raise InputError(source=source, field=dotted(path), has_value=False, expected=expected)
        value = value[key]
    return value


def get(data: Any, path: Sequence[str], default: Any = None) -> Any:
    """Returns the value at `path` inside `data`, or `default` when any key on the way is absent or null."""
    value = data
    for key in path:
        if not isinstance(value, Mapping) or value.get(key) is None:
            return default
        value = value[key]
    return value


def dotted(path: Sequence[str | int]) -> str:
    """Returns 'a.b[2].c' for the path ('a', 'b', 2, 'c')."""
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else str(key))
    return text


def number(data: Any, path: Sequence[str | int], *, source: str, minimum: float = 0.0) -> float:
    """Returns the finite number at `path` (at least `minimum`); an InputError naming the field otherwise."""
    value = need(data, path, source=source)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < minimum:
        raise InputError(source=source, field=dotted(path), value=value,
                         expected=f"a finite number of at least {minimum:g}")
    return float(value)


def optional_number(data: Any, path: Sequence[str], *, source: str, minimum: float = 0.0) -> float | None:
    """Returns the number at `path`, None when it is absent or null; an InputError when it is not a number."""
    if get(data, path) is None:
        return None
    return number(data, path, source=source, minimum=minimum)


def stat_of_values(values: Sequence[Any], *, source: str, field_name: str) -> Stat:
    """Returns the Stat of a list of per-request numbers (vLLM's --save-detailed lists)."""
    clean = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InputError(source=source, field=field_name, value=value, expected="a list of numbers")
        clean.append(float(value))
    if not clean:
        raise InputError(source=source, field=field_name, value=[], expected="a non-empty list of numbers")
    ordered = sorted(clean)
    return Stat(mean=sum(clean) / len(clean), minimum=ordered[0], maximum=ordered[-1],
                p50=_percentile(ordered, 50.0), p99=_percentile(ordered, 99.0))


def _percentile(ordered: Sequence[float], q: float) -> float:
    """Returns the q-th percentile of sorted values, linear between ranks (numpy's default method)."""
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
