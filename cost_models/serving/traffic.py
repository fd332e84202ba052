"""Traffic: when requests arrive and how long they are, deterministic for a seed.

Arrivals: a closed loop of `concurrency` clients (each sends its next request when the last one
finishes, as benchmark tools run), or an open loop at `rate_per_s`: Poisson, gamma with a
coefficient of variation (burstiness; cv 1 is Poisson), or the timestamps of a trace file.
Lengths: fixed, sampled from a file of (input_len, output_len) rows, or from a histogram (the
same file with a `weight` or `count` column). Files are CSV (with a header) or JSONL.
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autotune.errors import InputError
from autotune.specs.fields import read_text

ARRIVALS = ("poisson", "gamma", "trace", "closed")

_TIME_KEYS = ("timestamp_s", "timestamp", "arrival_s", "time_s")
_WEIGHT_KEYS = ("weight", "count")


@dataclass(frozen=True, kw_only=True)
class Lengths:
    """Prompt and output lengths to draw from, with their probabilities (one entry: fixed lengths)."""

    input_len: tuple[int, ...]
    output_len: tuple[int, ...]
    weight: tuple[float, ...] = ()
    """Relative frequency of each pair (empty: equal)."""

    def means(self) -> tuple[float, float]:
        """Returns the weighted mean (prompt, output) lengths, tokens."""
        w = np.asarray(self.weight, dtype=np.float64) if self.weight else np.ones(len(self.input_len))
        return float(np.dot(self.input_len, w) / w.sum()), float(np.dot(self.output_len, w) / w.sum())

    def sample(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Returns `count` (input, output) lengths: the fixed pair, or draws with replacement."""
        inputs = np.asarray(self.input_len, dtype=np.int64)
        outputs = np.asarray(self.output_len, dtype=np.int64)
        if len(inputs) == 1:
            return np.full(count, inputs[0]), np.full(count, outputs[0])
        p = None
        if self.weight:
            w = np.asarray(self.weight, dtype=np.float64)
            p = w / w.sum()
        index = rng.choice(len(inputs), size=count, p=p)
        return inputs[index], outputs[index]


@dataclass(frozen=True, kw_only=True)
class Traffic:
    """What arrives at one replica: the arrival process, the lengths and how many requests."""

    requests: int
    lengths: Lengths
    concurrency: int | None = None
    """Clients of a closed loop (None: open loop)."""
    rate_per_s: float | None = None
    """Mean arrival rate of an open loop (requests per second)."""
    arrival: str = "poisson"
    cv: float | None = None
    """Coefficient of variation of gamma inter-arrival times."""
    trace_s: tuple[float, ...] = field(default=(), repr=False)
    """Arrival times of a trace (seconds from its first request)."""
    seed: int = 0

    @property
    def closed(self) -> bool:
        """Returns True for a closed loop (fixed number of clients)."""
        return self.concurrency is not None


def fixed_lengths(input_len: int, output_len: int) -> Lengths:
    """Returns lengths that are the same for every request."""
    return Lengths(input_len=(int(input_len),), output_len=(int(output_len),))


def open_arrivals_s(traffic: Traffic, rng: np.random.Generator) -> np.ndarray:
    """Returns the arrival time of each request of an open loop, ascending (seconds)."""
    n = traffic.requests
    if traffic.arrival == "trace":
        times = np.asarray(traffic.trace_s[:n], dtype=np.float64)
        return times - times[0]
    rate = float(traffic.rate_per_s)
    if traffic.arrival == "gamma":
        shape = 1.0 / (float(traffic.cv) ** 2)
        gaps = rng.gamma(shape, 1.0 / (rate * shape), size=n)
    else:
        gaps = rng.exponential(1.0 / rate, size=n)
    # The first request arrives at 0: the clock starts with the traffic.
    return np.concatenate([[0.0], np.cumsum(gaps[1:])])


def read_table(path: str | Path, *, source: str) -> list[dict[str, str]]:
    """Returns the rows of a CSV (with a header) or JSONL file as dictionaries of strings."""
    file = Path(path)
    text = read_text(file)
    if file.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                raise InputError(source=source, field=f"line {number}", value=line[:40],
                                 expected="one JSON object per line") from None
            if not isinstance(item, dict):
                raise InputError(source=source, field=f"line {number}", value=item, expected="a JSON object")
            rows.append({str(k): str(v) for k, v in item.items()})
        return rows
    return [dict(row) for row in csv.DictReader(text.splitlines())]


def _number(row: dict[str, str], key: str, *, source: str, line: int, integer: bool) -> float:
    text = row.get(key)
    expected = "an integer >= 1" if integer else "a finite number >= 0"
    try:
        value = float(text) if text is not None else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or (integer and (value != int(value) or value < 1)) or value < 0:
        raise InputError(source=source, field=f"row {line}: {key}", value=text, expected=expected)
    return int(value) if integer else value


def load_lengths(path: str | Path) -> Lengths:
    """Returns the lengths in a sample file (input_len, output_len per row; a weight/count column: a histogram)."""
    source = str(path)
    rows = read_table(path, source=source)
    if not rows:
        raise InputError(source=source, has_value=False, expected="at least one row of input_len, output_len")
    weight_key = next((k for k in _WEIGHT_KEYS if k in rows[0]), None)
    inputs, outputs, weights = [], [], []
    for line, row in enumerate(rows, start=1):
        inputs.append(_number(row, "input_len", source=source, line=line, integer=True))
        outputs.append(_number(row, "output_len", source=source, line=line, integer=True))
        if weight_key:
            weights.append(_number(row, weight_key, source=source, line=line, integer=False))
    if weight_key and sum(weights) <= 0:
        raise InputError(source=source, field=weight_key, value=0, expected="weights with a positive sum")
    return Lengths(input_len=tuple(inputs), output_len=tuple(outputs), weight=tuple(weights))


def load_trace(path: str | Path) -> tuple[tuple[float, ...], Lengths]:
    """Returns a trace's arrival times (sorted, seconds) and its lengths in arrival order."""
    source = str(path)
    rows = read_table(path, source=source)
    if not rows:
        raise InputError(source=source, has_value=False, expected="at least one row of timestamp_s, input_len, "
                                                                  "output_len")
    key = next((k for k in _TIME_KEYS if k in rows[0]), None)
    if key is None:
        raise InputError(source=source, field="timestamp_s", has_value=False,
                         expected="a column of arrival times in seconds (" + ", ".join(_TIME_KEYS) + ")")
    entries = []
    for line, row in enumerate(rows, start=1):
        entries.append((_number(row, key, source=source, line=line, integer=False),
                        _number(row, "input_len", source=source, line=line, integer=True),
                        _number(row, "output_len", source=source, line=line, integer=True)))
    entries.sort(key=lambda e: e[0])
    return (tuple(e[0] for e in entries),
            Lengths(input_len=tuple(e[1] for e in entries), output_len=tuple(e[2] for e in entries)))


def is_trace_file(path: str | Path) -> bool:
    """Returns True when a workload file has a column of arrival times (a trace), False for lengths only."""
    rows = read_table(path, source=str(path))
    return bool(rows) and any(key in rows[0] for key in _TIME_KEYS)
