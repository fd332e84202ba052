"""CSV tables of enumerate candidates, Pareto points and sweep points, for spreadsheets and other tools.

One row per configuration, flat columns: the plan's degrees, the metrics as JSON gives them
(`Recommendation.to_dict()`, so CSV and `--json` agree number for number), memory as one column per
part (`memory_<part>_bytes`) and lists joined with "; ". Floats are written as Python's shortest
round-trip text (`repr`), booleans as true/false, a missing value as an empty cell, lines end in "\\n".
"""
from __future__ import annotations

import csv
import math
import numbers
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from autotune.errors import InputError
from autotune.results import EnumerateResult, ParetoResult, Recommendation, SweepPoint, SweepResult

#: Leading columns of a configuration row, in this order; other keys follow, sorted by name.
CONFIG_COLUMNS = (
    "tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size", "batch_size", "cards_used", "pes_used",
    "feasible", "ttft_ms", "tpot_ms", "e2e_latency_ms", "throughput_tokens_per_s",
    "throughput_tokens_per_s_per_device",
)
#: Memory parts in the order `autotune estimate` prints them; other parts follow, sorted by name.
MEMORY_PARTS = ("weights", "kv_cache", "activations", "reserved", "total", "capacity")
#: Trailing columns of a configuration row (free text last, so that numbers line up in a viewer).
TAIL_COLUMNS = ("binding_limits", "violations")
SWEEP_COLUMNS = ("cards", "model", "dtype", "input_len", "status")
LIST_SEPARATOR = "; "
STDOUT = "-"


def recommendation_row(r: Recommendation) -> dict[str, str]:
    """Returns the flat CSV cells of one configuration (memory per part in bytes, lists joined)."""
    row: dict[str, str] = {}
    for key, value in r.to_dict().items():
        if key == "memory_per_device_bytes" and isinstance(value, Mapping):
            for part, amount in value.items():
                row[f"memory_{part}_bytes"] = cell(amount)
        else:
            row[key] = cell(value)
    for key in TAIL_COLUMNS:
        row.setdefault(key, "")
    return row


def enumerate_rows(result: EnumerateResult) -> list[dict[str, str]]:
    """Returns one row per candidate, in the result's order, with its 1-based `rank`."""
    return [{"rank": str(i + 1), **recommendation_row(c)} for i, c in enumerate(result.candidates)]


def pareto_rows(result: ParetoResult) -> list[dict[str, str]]:
    """Returns one row per Pareto point, lowest TPOT first, with `rank` and `tokens_per_s_per_user` (1000 / TPOT ms)."""
    rows = []
    for i, p in enumerate(result.points):
        row = {"rank": str(i + 1), **recommendation_row(p)}
        row["tokens_per_s_per_user"] = cell(1e3 / float(p.metrics["tpot_ms"]))
        rows.append(row)
    return rows


def sweep_rows(result: SweepResult) -> list[dict[str, str]]:
    """Returns one row per sweep point: coordinates, status, the best configuration (empty when none) and reasons."""
    return [sweep_row(p) for p in result.points]


def sweep_row(p: SweepPoint) -> dict[str, str]:
    """Returns the cells of one sweep point."""
    row = {"cards": cell(p.cards), "model": p.model, "dtype": p.dtype, "input_len": cell(p.input_len),
           "status": p.status}
    if p.recommendation is not None:
        row.update(recommendation_row(p.recommendation))
    row["reasons"] = LIST_SEPARATOR.join(_one_line(reason) for reason in p.reasons)
    return row


def columns_of(rows: Sequence[Mapping[str, str]], *, lead: Sequence[str] = (), extra: Sequence[str] = (),
               tail: Sequence[str] = ()) -> list[str]:
    """Returns the header: `lead`, the configuration columns and `extra`, memory parts, any other keys of
    `rows` sorted by name, the list columns, then `tail`. The same columns whatever the rows hold, so that a
    table of infeasible points has the schema of a feasible one."""
    memory = [f"memory_{part}_bytes" for part in MEMORY_PARTS]
    fixed = [*lead, *CONFIG_COLUMNS, *extra, *memory]
    end = [*TAIL_COLUMNS, *tail]
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    others = [k for k in seen if k not in fixed and k not in end]
    other_memory = sorted(k for k in others if k.startswith("memory_"))
    rest = sorted(k for k in others if not k.startswith("memory_"))
    return fixed + other_memory + rest + end


def write_csv(target: str | Path | TextIO, rows: Sequence[Mapping[str, str]], *,
              columns: Sequence[str] | None = None, source: str = "--csv") -> int:
    """Returns the number of data rows written to `target` (a path, '-' for stdout, or an open text stream)."""
    header = list(columns) if columns is not None else columns_of(rows)
    with _opened(target, source) as stream:
        writer = csv.DictWriter(stream, fieldnames=header, restval="", lineterminator="\n",
                                quoting=csv.QUOTE_MINIMAL)
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    return len(rows)


def enumerate_csv(result: EnumerateResult, target: str | Path | TextIO, *, source: str = "--csv") -> int:
    """Returns the number of candidate rows written as CSV, in the result's order."""
    rows = enumerate_rows(result)
    return write_csv(target, rows, columns=columns_of(rows, lead=("rank",)), source=source)


def pareto_csv(result: ParetoResult, target: str | Path | TextIO, *, source: str = "--csv") -> int:
    """Returns the number of Pareto point rows written as CSV, lowest TPOT first."""
    rows = pareto_rows(result)
    columns = columns_of(rows, lead=("rank",), extra=("tokens_per_s_per_user",))
    return write_csv(target, rows, columns=columns, source=source)


def sweep_csv(result: SweepResult, target: str | Path | TextIO, *, source: str = "--csv") -> int:
    """Returns the number of sweep point rows written as CSV (infeasible points keep their coordinates)."""
    rows = sweep_rows(result)
    return write_csv(target, rows, columns=columns_of(rows, lead=SWEEP_COLUMNS, tail=("reasons",)), source=source)


def cell(value: Any) -> str:
    """Returns the CSV text of a value: shortest round-trip floats, whole floats as integers, true/false."""
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        # Bytes and counts arrive as whole floats: "8298696704", not "8298696704.0".
        if math.isfinite(number) and number.is_integer() and abs(number) < 2**53:
            return str(int(number))
        return repr(number)
    if isinstance(value, str):
        return _one_line(value)
    if isinstance(value, Iterable):
        return LIST_SEPARATOR.join(cell(item) for item in value)
    return _one_line(str(value))


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


@contextmanager
def _opened(target: str | Path | TextIO, source: str) -> Iterator[TextIO]:
    if not isinstance(target, (str, Path)):
        yield target  # an open text stream: the caller owns it
        return
    if str(target) == STDOUT:
        yield sys.stdout
        sys.stdout.flush()
        return
    path = Path(target)
    if not path.parent.is_dir():
        raise InputError(source=source, value=str(target),
                         expected="a file in an existing directory, or - for stdout")
    try:
        stream = path.open("w", encoding="utf-8", newline="")
    except OSError as error:
        raise InputError(source=source, value=str(target),
                         expected=f"a writable file ({error.strerror or error})") from None
    with stream:
        yield stream
