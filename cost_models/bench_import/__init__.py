"""Benchmark result files of the tools users run, as rows of our measurement columns.

One module per tool reads its format into `BenchRun`s (`vllm`, `guidellm`, `aiperf` for AIPerf and
genai-perf, `trtllm` for trtllm-bench); `detect` says which tool wrote a file; `rows` joins a run with
what the flags state (hardware, layout, weight format) into a row of cost_models/data/calibration.csv's
columns. Each reader's docstring names the tool's source file and commit its keys were read from.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from autotune.errors import InputError
from cost_models.bench_import.detect import FORMATS, read_runs
from cost_models.bench_import.rows import COLUMNS, BenchFlags, csv_text, to_row, write_csv

__all__ = ["COLUMNS", "FORMATS", "BenchFlags", "ImportResult", "SkippedPoint", "csv_text", "import_files",
           "write_csv"]


@dataclass(frozen=True, kw_only=True)
class SkippedPoint:
    """A load point of a file that became no row, and why."""

    source: str
    part: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class ImportResult:
    """The rows imported from the files (column -> text) and the load points left out."""

    rows: tuple[dict[str, str], ...]
    skipped: tuple[SkippedPoint, ...]
    formats: tuple[tuple[str, str], ...]
    """(file, format) for each file, in the order given."""


def import_files(files: Sequence[str | Path], flags: BenchFlags, *, format: str | None = None) -> ImportResult:
    """Returns the measurement rows of benchmark result `files`; InputError for a bad file or flag.

    `format` forces the reader (one of `FORMATS`); None detects each file's. A file none of whose load
    points maps to a load type is bad input too (its reasons are named).
    """
    if not files:
        raise InputError(source="FILE", has_value=False, expected="at least one benchmark result file")
    rows: list[dict[str, str]] = []
    skipped: list[SkippedPoint] = []
    formats: list[tuple[str, str]] = []
    used_ids: set[str] = set()
    for file in files:
        path = Path(file)
        found, runs, left = read_runs(path, format=format)
        formats.append((str(file), found))
        skipped += [SkippedPoint(source=str(file), part=s.part, reason=s.reason) for s in left]
        if not runs:
            reasons = "; ".join(s.reason for s in left) or "no measured run"
            raise InputError(source=str(file), has_value=False,
                             expected=f"at least one run of a load type our measurements describe ({reasons})")
        for number, run in enumerate(runs, start=1):
            row_id = _unique(f"{path.stem}-{number}", used_ids)
            rows.append(to_row(run, flags, source=str(file), row_id=row_id))
    return ImportResult(rows=tuple(rows), skipped=tuple(skipped), formats=tuple(formats))


def _unique(candidate: str, used: set[str]) -> str:
    """Returns `candidate`, or it with the first free suffix when another file already gave that id."""
    row_id, suffix = candidate, 2
    while row_id in used:
        row_id, suffix = f"{candidate}.{suffix}", suffix + 1
    used.add(row_id)
    return row_id
