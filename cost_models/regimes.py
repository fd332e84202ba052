"""Predicting what each measurement row measured, in its own regime (docs/cost-model.md, section 4).

load_type -> regime:
- `offline_max_throughput`: continuous batching at the largest batch that fits (engine cap applied),
  priced by `steady_state.steady_state_metrics`, the function the search ranks candidates with;
  throughput = dp x batch / TPOT of a mixed step.
- `static_batch`: a fixed batch prefilled at once, then output_len - 1 pure decode steps;
  throughput = batch x output_len / (prefill + (output_len - 1) x decode step); TTFT = that prefill.
- `online_fixed_concurrency`: benchmark clients keep `concurrency` requests of fixed lengths in
  flight; the requests start together and, having equal lengths, finish together, so they run in
  waves: the wave's prompts are prefilled, then decoded together. Throughput and TPOT as
  `static_batch`; a request waits on average for (concurrency + 1) / 2 prompts' prefill (TTFT).
- `online_request_rate`: requests of fixed lengths arriving as a Poisson process at a rate: the
  serving simulator's open loop (no static fallback).
- `batch1_first_token_latency`: TTFT of one prompt alone (`steady_state_metrics` at batch 1).
- `static_batch_e2e_latency`: TPOT of a pure decode step at the given batch, static throughput;
  a row with only an end-to-end latency compares e2e / output_len on both sides.

Rows measured with trtllm-bench ran an engine the tool sized for their lengths: its activation
workspace holds the max_num_tokens of `measurements.trtllm_bench_max_num_tokens`, not the default.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from cost_models import memory, timing
from cost_models.inputs import RowInputs, build_inputs, concat_inputs
from cost_models.measurements import MeasuredRow
from cost_models.params import CostParams
from cost_models.steady_state import steady_state_metrics


@dataclass(frozen=True, kw_only=True)
class PreparedRows:
    """Measurement rows turned into formula inputs once, to be predicted under many parameter sets."""

    rows: list[MeasuredRow]
    inputs: RowInputs
    load_type: np.ndarray
    given_batch: np.ndarray
    """Sequences per replica for fixed-batch rows (NaN for offline rows)."""
    engine_cap: np.ndarray
    """Per-row engine ceiling on the batch (NaN: the parameters' default)."""


def prepare(rows: list[MeasuredRow], params: CostParams) -> PreparedRows:
    """Returns the formula inputs of every row (batch to be chosen per regime)."""
    parts = []
    for row in rows:
        one = np.ones(1)
        parts.append(build_inputs(row.model, row.hardware, input_len=row.input_len, output_len=row.output_len,
                                  dtype=row.dtype, kv_dtype=row.kv_dtype, tp=one * row.tp, pp=one * row.pp,
                                  dp=one * row.dp, batch=one, params=params, ep=one * row.ep, adp=one * row.adp,
                                  adp_balanced=one * row.adp_balanced))
    inputs = concat_inputs(parts) if parts else None
    if inputs is not None:
        tokens = np.array([params.activation_tokens if r.engine_max_num_tokens is None else r.engine_max_num_tokens
                           for r in rows], dtype=np.float64)
        inputs = replace(inputs, activation_tokens=tokens)
    given = np.array([np.nan if r.batch is None else max(r.batch / r.dp, 1.0) for r in rows], dtype=np.float64)
    cap = np.array([np.nan if r.engine_max_batch is None else r.engine_max_batch for r in rows], dtype=np.float64)
    return PreparedRows(rows=rows, inputs=inputs,
                        load_type=np.array([r.load_type for r in rows]), given_batch=given, engine_cap=cap)


def predict(prepared: PreparedRows, params: CostParams) -> dict[str, np.ndarray]:
    """Returns per-row predictions (NaN where the row does not measure that figure).

    Keys: `throughput` (tokens/s), `ttft` and `tpot` (seconds), `batch` (sequences per replica used).
    A device with its own fitted values (`CostParams.for_hardware`, RNGD) has its rows priced with them.
    """
    out = _predict(prepared, params)
    for name in sorted({r.hardware.name for r in prepared.rows} & set(params.hardware_values)):
        mine = np.array([r.hardware.name == name for r in prepared.rows])
        own = _predict(prepared, params.for_hardware(name))
        out = {key: np.where(mine, own[key], value) for key, value in out.items()}
    return out


def _predict(prepared: PreparedRows, params: CostParams) -> dict[str, np.ndarray]:
    """Returns `predict`'s figures with one set of parameters for every row."""
    base = prepared.inputs
    lt = prepared.load_type
    offline = lt == "offline_max_throughput"
    cap = np.where(np.isnan(prepared.engine_cap), float(params.max_batch_per_replica), prepared.engine_cap)
    fitted = memory.max_batch(base, params).astype(np.float64)
    batch = np.where(offline, np.minimum(fitted, cap), np.nan_to_num(prepared.given_batch, nan=1.0))
    rows = replace(base, batch=np.maximum(batch, 1.0))
    b = rows.batch
    steady = steady_state_metrics(rows, params)
    pure = timing.decode_cycle_s(rows, params, b, np.zeros(len(rows)))
    static_prefill = timing.prefill_time_s(rows, params, b, np.zeros(len(rows)))
    wave_prefill = timing.prefill_time_s(rows, params, (b + 1.0) / 2.0, np.zeros(len(rows)))
    static_e2e = static_prefill + (rows.output_len - 1.0) * pure
    static_throughput = rows.dp * b * rows.output_len / static_e2e
    serving_throughput = steady["throughput_tokens_per_s"]
    serving_throughput = np.where(offline & (fitted < 1), 0.0, serving_throughput)

    nan = np.full(len(rows), np.nan)
    throughput = np.select(
        [offline, lt == "static_batch", lt == "online_fixed_concurrency", lt == "static_batch_e2e_latency"],
        [serving_throughput, static_throughput, static_throughput, static_throughput], nan)
    ttft = np.select(
        [lt == "batch1_first_token_latency", lt == "static_batch", lt == "static_batch_e2e_latency",
         lt == "online_fixed_concurrency"],
        [steady["ttft_s"], static_prefill, static_prefill, wave_prefill], nan)
    tpot = np.select([lt == "online_fixed_concurrency", lt == "static_batch_e2e_latency"], [pure, pure], nan)
    # The serving simulator prices every layout, EP and attention DP included (each row's own degrees).
    online = np.isin(lt, ("online_fixed_concurrency", "online_request_rate"))
    if online.any():  # serving rows: the simulator, not waves (the wave figures stay where none fits)
        from cost_models.serving.validation import predict_serving
        sim = predict_serving(prepared.rows, base, params, online)
        throughput, ttft, tpot = (np.where(np.isfinite(sim[k]), sim[k], old) for k, old in
                                  (("throughput", throughput), ("ttft", ttft), ("tpot", tpot)))
    e2e_per_token = static_e2e / rows.output_len
    return {"throughput": throughput, "ttft": ttft, "tpot": tpot, "e2e_per_token": e2e_per_token, "batch": b}


def measured(prepared: PreparedRows) -> dict[str, np.ndarray]:
    """Returns the measured figures aligned with `predict` (NaN where a row has none).

    A `static_batch_e2e_latency` row without TPOT but with an end-to-end latency compares
    e2e / output_len (both sides computed the same way) under `tpot`.
    """
    rows = prepared.rows

    def column(getter) -> np.ndarray:
        return np.array([np.nan if getter(r) is None else getter(r) for r in rows], dtype=np.float64)

    tpot = column(lambda r: r.tpot_s)
    e2e_per_token = column(lambda r: None if r.e2e_latency_s is None else r.e2e_latency_s / r.output_len)
    use_e2e = (prepared.load_type == "static_batch_e2e_latency") & np.isnan(tpot) & ~np.isnan(e2e_per_token)
    return {"throughput": column(lambda r: r.throughput_tokens_per_s), "ttft": column(lambda r: r.ttft_s),
            "tpot": np.where(use_e2e, e2e_per_token, tpot), "tpot_from_e2e": use_e2e}


def aligned(prepared: PreparedRows, params: CostParams) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Returns metric -> (predicted, measured) arrays, NaN where a row does not measure the metric."""
    pred = predict(prepared, params)
    meas = measured(prepared)
    tpot_pred = np.where(meas["tpot_from_e2e"], pred["e2e_per_token"], pred["tpot"])
    return {"throughput": (pred["throughput"], meas["throughput"]), "ttft": (pred["ttft"], meas["ttft"]),
            "tpot": (tpot_pred, meas["tpot"])}
