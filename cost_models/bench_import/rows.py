"""Measurement rows (the calibration file's columns) from benchmark runs plus what the flags state.

A result file names the model it asked for, its load and its figures, rarely the hardware, the
parallel layout or the weight format: those come from the flags (`BenchFlags`). What the file
states is never replaced: a flag that contradicts it is bad input naming both values. A run whose
requests had variable lengths keeps the mean lengths and is marked `mean` in the `lengths` column
(`cost_models.measurements` skips such rows with that reason; their spread is in the note).
"""
from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from autotune.errors import InputError
from autotune.specs.dtypes import USER_DTYPES
from autotune.specs.hardware import HardwareSpec
from cost_models.bench_import.runs import CLOSED_LOOP, OFFLINE, OPEN_LOOP, BenchRun, Stat
from cost_models.measurements import KV_DTYPE_COLUMN, LENGTHS_COLUMN, LENGTHS_MEAN, RATE_COLUMN

#: The columns of cost_models/data/calibration.csv, in its order, then the optional ones a run may fill.
COLUMNS: tuple[str, ...] = (
    "row_id", "model_id", "hardware_id", "dtype", "hardware", "num_devices", "model", "precision",
    "tensor_parallel", "pipeline_parallel", "data_parallel", "expert_parallel", "input_len", "output_len",
    "batch_or_concurrency", "load_type", "throughput_output_tok_s_total", "throughput_output_tok_s_per_device",
    "ttft_ms", "tpot_or_itl_ms", "e2e_latency_s", "framework", "source", "note",
    RATE_COLUMN, KV_DTYPE_COLUMN, LENGTHS_COLUMN)

#: How far a run's mean length may be from a stated fixed length (`--input-len`): tokenizers re-count a
#: prompt's tokens slightly differently than the client built it (the shared RNGD rows: 1020.5 for 1025).
LENGTH_TOLERANCE = 0.02


@dataclass(frozen=True, kw_only=True)
class BenchFlags:
    """What the user states about the runs (None: not stated)."""

    hardware: HardwareSpec
    model: str | None = None
    """The model the runs served; must agree with the file's model when it names one."""
    base_model: str | None = None
    """The architecture to price a derived build as (a FuriosaAI FP8 build of Qwen3-4B: Qwen/Qwen3-4B)."""
    tp: int | None = None
    pp: int | None = None
    dp: int | None = None
    ep: int | None = None
    dtype: str | None = None
    kv_dtype: str | None = None
    engine: str | None = None
    concurrency: int | None = None
    request_rate_per_s: float | None = None
    input_len: int | None = None
    """The fixed prompt length the runs used, when the file cannot say whether lengths were fixed."""
    output_len: int | None = None


def to_row(run: BenchRun, flags: BenchFlags, *, source: str, row_id: str) -> dict[str, str]:
    """Returns one measurement row (column -> text) of `run`; InputError for a missing or contradicted fact."""
    where = f"{source} ({run.part})" if run.part else source
    model_id, model_name = _model(run, flags, where)
    tp = _agree("tp", "--tp", run.stated.get("tp"), flags.tp, where)
    if tp is None:
        raise InputError(source="--tp", has_value=False,
                         expected=f"the tensor-parallel degree of the runs ({where} does not state it)")
    pp = _agree("pp", "--pp", run.stated.get("pp"), flags.pp, where) or 1
    ep = _agree("ep", "--ep", run.stated.get("ep"), flags.ep, where)
    dp = flags.dp or 1
    dtype = _agree("dtype", "--dtype", run.stated.get("dtype"), flags.dtype, where)
    if dtype is None:
        raise InputError(source="--dtype", has_value=False,
                         expected=f"the weight format of the runs, one of {', '.join(USER_DTYPES)} "
                                  f"({where} does not state it)")
    kv_dtype = _agree("kv_dtype", "--kv-dtype", run.stated.get("kv_dtype"), flags.kv_dtype, where)
    engine = _agree("engine", "--engine", run.stated.get("engine"), flags.engine, where, text=True)
    if engine is None:
        raise InputError(source="--engine", has_value=False,
                         expected=f"the serving engine and its version, e.g. 'vLLM 0.11.0' or 'furiosa-llm 2026.3.0' "
                                  f"({where} does not name it; the engine decides the scheduler priced)")
    load_type, concurrency, rate = _load(run, flags, where)
    (input_len, input_fixed), (output_len, output_fixed) = (
        _length("input", "--input-len", run.input_tokens, flags.input_len, where),
        _length("output", "--output-len", run.output_tokens, flags.output_len, where))
    fixed = input_fixed and output_fixed
    units = max(flags.hardware.compute_units_per_device, 1)
    devices = max(math.ceil(tp * pp * dp / units), 1)
    throughput = run.output_throughput_tok_s
    return {
        "row_id": row_id, "model_id": model_id, "hardware_id": flags.hardware.name, "dtype": dtype,
        "hardware": str(run.stated.get("device") or flags.hardware.description), "num_devices": str(devices),
        "model": model_name, "precision": dtype.upper(), "tensor_parallel": str(tp), "pipeline_parallel": str(pp),
        "data_parallel": str(dp), "expert_parallel": "" if ep is None else str(ep),
        "input_len": input_len, "output_len": output_len,
        "batch_or_concurrency": _batch_text(run, load_type, concurrency, rate), "load_type": load_type,
        "throughput_output_tok_s_total": _num(throughput),
        "throughput_output_tok_s_per_device": _num(None if throughput is None else throughput / devices),
        "ttft_ms": _num(run.ttft_ms.mean if run.ttft_ms else None),
        "tpot_or_itl_ms": _num(run.tpot_ms.mean if run.tpot_ms else None),
        "e2e_latency_s": _num(run.e2e_ms.mean / 1e3 if run.e2e_ms else None),
        "framework": engine + (", genai-perf" if run.tool == "genai-perf" else ""),
        "source": where, "note": _note(run, flags, input_fixed=input_fixed, output_fixed=output_fixed),
        RATE_COLUMN: _num(rate), KV_DTYPE_COLUMN: kv_dtype or "", LENGTHS_COLUMN: "" if fixed else LENGTHS_MEAN,
    }


def csv_text(rows: Sequence[Mapping[str, str]]) -> str:
    """Returns the CSV text of `rows` under `COLUMNS` (a header line first; LF line ends)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue()


def write_csv(rows: Sequence[Mapping[str, str]], path: Path) -> None:
    """Writes `rows` as a measurement CSV at `path`."""
    try:
        path.write_text(csv_text(rows), encoding="utf-8")
    except OSError as exc:
        raise InputError(source="-o", value=str(path), expected=f"a writable file ({exc.strerror})") from None


def _model(run: BenchRun, flags: BenchFlags, where: str) -> tuple[str, str]:
    """Returns (model_id, model): the id the cost model resolves, and the name the runs served."""
    if flags.model and run.model and flags.model.strip().lower() != str(run.model).strip().lower():
        raise InputError(source=where, field="model", value=run.model,
                         expected=f"the model --model names ({flags.model}); to price a build of another model "
                                  "as that model, pass --base-model")
    served = run.model or flags.model
    model_id = flags.base_model or served
    if not model_id:
        raise InputError(source="--model", has_value=False,
                         expected=f"the model the runs served ({where} does not name it)")
    return str(model_id), str(served or model_id)


def _agree(key: str, flag: str, stated, given, where: str, *, text: bool = False):
    """Returns the file's value, else the flag's; InputError naming both when they differ."""
    if stated is not None and given is not None:
        same = str(stated).strip().lower() == str(given).strip().lower() if text else stated == given
        if not same:
            raise InputError(source=where, field=key, value=stated,
                             expected=f"the value {flag} gives ({given}): the file states otherwise")
    return stated if stated is not None else given


def _load(run: BenchRun, flags: BenchFlags, where: str) -> tuple[str, int | None, float | None]:
    """Returns (load type, concurrency, rate) from the file, or from the flags when the file does not state it."""
    if flags.concurrency is not None and flags.request_rate_per_s is not None:
        raise InputError(source="--concurrency", value=flags.concurrency,
                         expected="either --concurrency or --request-rate, not both")
    if not run.load_stated:
        if flags.concurrency is not None:
            return CLOSED_LOOP, flags.concurrency, None
        if flags.request_rate_per_s is not None:
            return OPEN_LOOP, None, flags.request_rate_per_s
        if run.load_type == OFFLINE:
            return OFFLINE, None, None
        raise InputError(source="--concurrency", has_value=False,
                         expected=f"the load of the runs: --concurrency N or --request-rate R "
                                  f"({where} does not state it)")
    if flags.concurrency is not None and flags.concurrency != run.concurrency:
        raise InputError(source=where, field="concurrency", value=run.concurrency or run.load_type,
                         expected=f"the value --concurrency gives ({flags.concurrency}): the file states otherwise")
    if flags.request_rate_per_s is not None and (run.request_rate_per_s is None or not math.isclose(
            flags.request_rate_per_s, run.request_rate_per_s, rel_tol=1e-9)):
        raise InputError(source=where, field="request_rate", value=run.request_rate_per_s or run.load_type,
                         expected=f"the value --request-rate gives ({flags.request_rate_per_s:g}): "
                                  "the file states otherwise")
    return run.load_type, run.concurrency, run.request_rate_per_s


def _length(name: str, flag: str, stat: Stat | None, given: int | None, where: str) -> tuple[str, bool]:
    """Returns (the column text, fixed?) of the prompt or output length."""
    if stat is None:
        raise InputError(source=where, field=f"{name} lengths", has_value=False, expected="the requests' token counts")
    fixed = stat.fixed
    if given is not None:
        if fixed is True and stat.minimum != given:
            raise InputError(source=where, field=f"{name} length", value=stat.minimum,
                             expected=f"the length {flag} gives ({given}): every request had the file's length")
        if fixed is False:
            raise InputError(source=where, field=f"{name} lengths", value=f"{stat.minimum:g} to {stat.maximum:g}",
                             expected=f"one length, as {flag} {given} states: the file's requests varied")
        if abs(stat.mean - given) > LENGTH_TOLERANCE * given:
            raise InputError(source=where, field=f"mean {name} length", value=round(stat.mean, 2),
                             expected=f"within {LENGTH_TOLERANCE:.0%} of {flag} {given}")
        return str(given), True
    if fixed is True:
        return str(int(round(stat.minimum))), True
    return _num(stat.mean), False


def _batch_text(run: BenchRun, load_type: str, concurrency: int | None, rate: float | None) -> str:
    if load_type == CLOSED_LOOP:
        return str(concurrency)
    if load_type == OPEN_LOOP:
        return f"Poisson {rate:g} req/s"
    caps = " ".join(f"{k} {run.stated[k]}" for k in ("max_num_seqs", "max_num_tokens") if k in run.stated)
    tool = "trtllm-bench throughput, inflight batching" if run.tool == "trtllm-bench" else run.tool
    return f"max-load ({tool}{'; ' + caps if caps else ''})"


def _note(run: BenchRun, flags: BenchFlags, *, input_fixed: bool, output_fixed: bool) -> str:
    parts = [f"imported by autotune import-bench from a {run.tool} result; TTFT, TPOT (first token excluded) "
             "and E2E are means over the successful requests"]
    counts = []
    if run.completed is not None:
        counts.append(f"{run.completed} requests")
    if run.failed:
        counts.append(f"{run.failed} failed")
    if run.duration_s is not None:
        counts.append(f"window {run.duration_s:.6g} s")
    if counts:
        parts.append(", ".join(counts))
    for label, stat in (("TTFT", run.ttft_ms), ("TPOT", run.tpot_ms)):
        pairs = (("p50", stat and stat.p50), ("p99", stat and stat.p99))
        quantiles = [f"{name} {_num(value)} ms" for name, value in pairs if value is not None]
        if quantiles:
            parts.append(f"{label} " + " ".join(quantiles))
    for label, stat, fixed in (("prompt", run.input_tokens, input_fixed), ("output", run.output_tokens, output_fixed)):
        if stat is not None and not fixed:
            spread = ", ".join(f"{k} {_num(v)}" for k, v in (("min", stat.minimum), ("p50", stat.p50),
                                                             ("p99", stat.p99), ("max", stat.maximum)) if v is not None)
            parts.append(f"{label} tokens mean {_num(stat.mean)}" + (f" ({spread})" if spread else ""))
    if not (input_fixed and output_fixed):
        parts.append("variable or unconfirmed lengths: input_len/output_len are means (pass --input-len/--output-len "
                     "to import-bench when the run used fixed lengths)")
    if flags.base_model:
        parts.append(f"served {run.model or flags.model}, priced as {flags.base_model}")
    parts.extend(run.details)
    return "; ".join(parts)


def _num(value: float | None) -> str:
    """Returns a number as text with 6 significant digits ('' for None)."""
    if value is None:
        return ""
    return f"{float(value):.6g}"
