"""The cost model's entry points: `evaluate` (a CostTable for arrays of candidates) and `max_batch`.

Times come from `steady_state.steady_state_metrics` (continuous batching), the same function
that `autotune validate` checks on the offline measurements (`regimes.py`).
"""
from __future__ import annotations

import numpy as np

from autotune.specs.candidates import Candidates
from autotune.specs.candidates import devices_used
from autotune.specs.hardware import HardwareSpec
from autotune.specs.model import ModelSpec
from autotune.specs.workload import Workload
from cost_models import memory
from cost_models.inputs import RowInputs, build_inputs
from cost_models.params import CostParams, load_params
from cost_models.steady_state import steady_state_metrics
from cost_models.table import CostTable


def candidate_inputs(model: ModelSpec, hardware: HardwareSpec, workload: Workload, candidates: Candidates,
                     params: CostParams) -> RowInputs:
    """Returns the formula inputs for every candidate row."""
    return build_inputs(model, hardware, input_len=workload.input_len, output_len=workload.output_len,
                        dtype=workload.dtype, kv_dtype=workload.cache_dtype,
                        tp=candidates.tp, pp=candidates.pp, dp=candidates.dp,
                        batch=np.maximum(np.asarray(candidates.batch, dtype=np.float64), 1.0), params=params,
                        ep=candidates.ep, adp=candidates.adp)


def evaluate(model: ModelSpec, hardware: HardwareSpec, workload: Workload, candidates: Candidates,
             params: CostParams | None = None) -> CostTable:
    """Returns memory (bytes per device), times (seconds) and throughput (tokens/s) for every candidate."""
    params = (load_params() if params is None else params).for_hardware(hardware.name)
    rows = candidate_inputs(model, hardware, workload, candidates, params)
    weights = memory.weights_bytes(rows)
    kv = memory.kv_cache_bytes(rows)
    activations = memory.activation_bytes(rows, params)
    reserved = memory.reserved_bytes(rows, params)
    total = weights + kv + activations + reserved  # = memory.total_bytes(rows, params), terms kept for the table
    metrics = steady_state_metrics(rows, params)
    return CostTable(
        weights_bytes=weights, kv_cache_bytes=kv, activations_bytes=activations, reserved_bytes=reserved,
        total_bytes=total, capacity_bytes=float(hardware.memory_capacity_bytes),
        ttft_s=metrics["ttft_s"], tpot_s=metrics["tpot_s"], e2e_latency_s=metrics["e2e_latency_s"],
        throughput_tokens_per_s=metrics["throughput_tokens_per_s"],
        devices_used=devices_used(hardware, candidates.tp, candidates.pp, candidates.dp),
        max_batch=memory.largest_fitting_batch(rows, params),
        fits_memory=total <= hardware.memory_capacity_bytes,
    )


def max_batch(model: ModelSpec, hardware: HardwareSpec, workload: Workload, candidates: Candidates,
              params: CostParams | None = None) -> np.ndarray:
    """Returns the largest batch per replica that fits memory for each candidate (0: none)."""
    params = (load_params() if params is None else params).for_hardware(hardware.name)
    return memory.largest_fitting_batch(candidate_inputs(model, hardware, workload, candidates, params), params)
