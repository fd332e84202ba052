"""Predictions for measurement rows taken under load (`online_fixed_concurrency`): a closed loop, simulated.

Benchmark clients (genai-perf, the RNGD harness) keep `concurrency` requests of fixed lengths in
flight: that is the simulator's closed loop, with the engine that served the row: Furiosa LLM on
RNGD; on GPUs TensorRT-LLM's in-flight batching, the backend of every GPU row of this load type
in the shipped data (NIM for LLMs with the TensorRT-LLM backend, `measurements_extra.csv`). The
measured TTFT and TPOT are compared with the simulated means (genai-perf reports averages).
"""
from __future__ import annotations

import numpy as np

from autotune.errors import InfeasibleError
from cost_models.inputs import RowInputs
from cost_models.measurements import MeasuredRow
from cost_models.params import CostParams
from cost_models.serving.engines import EngineProfile, load_engine
from cost_models.serving.simulator import simulate_layout
from cost_models.serving.traffic import Traffic, fixed_lengths

#: Requests each simulated client sends (a closed loop measures all but the first and last round).
REQUESTS_PER_CLIENT = 6
#: Fewest requests per simulated row.
MIN_REQUESTS = 48


def validation_engine(hardware_name: str) -> str:
    """Returns the engine a measured row is simulated with: Furiosa LLM on RNGD, TensorRT-LLM on GPUs."""
    return "furiosa-llm" if hardware_name.lower().startswith("rngd") else "tensorrt-llm"


def predict_closed_loop(rows: list[MeasuredRow], inputs: RowInputs, params: CostParams,
                        select: np.ndarray) -> dict[str, np.ndarray]:
    """Returns throughput (tokens/s), mean TTFT and TPOT (s) of the selected rows (NaN elsewhere or if none fits)."""
    n = len(rows)
    out = {key: np.full(n, np.nan) for key in ("throughput", "ttft", "tpot")}
    engines: dict[tuple[str, str], EngineProfile] = {}
    for i in np.flatnonzero(select):
        row = rows[i]
        name = validation_engine(row.hardware.name)
        key = (name, row.hardware.name)
        if key not in engines:
            engines[key] = load_engine(name, row.hardware)
        concurrency = int(row.batch or 1)
        traffic = Traffic(requests=max(REQUESTS_PER_CLIENT * concurrency, MIN_REQUESTS),
                          lengths=fixed_lengths(row.input_len, row.output_len), concurrency=concurrency)
        try:
            result = simulate_layout(row.model, row.hardware, dtype=row.dtype, kv_dtype=row.kv_dtype, tp=row.tp,
                                     pp=row.pp, dp=row.dp, engine=engines[key], traffic=traffic, params=params,
                                     activation_tokens=int(inputs.activation_tokens[i]))
        except InfeasibleError:
            continue
        out["throughput"][i] = result.output_tokens_per_s
        out["ttft"][i] = result.ttft_ms.mean / 1e3
        out["tpot"][i] = result.tpot_ms.mean / 1e3 if row.output_len > 1 else np.nan
    return out


def online_accuracy(path: str, params: CostParams | None = None) -> dict[str, dict]:
    """Returns n, median and p90 absolute % error of throughput, TTFT and TPOT over a file's online rows only."""
    from cost_models.measurements import read_measurements
    from cost_models.params import load_params
    from cost_models.regimes import aligned, prepare
    from cost_models.validation import abs_pct_errors, metric_summary

    params = load_params() if params is None else params
    rows = [r for r in read_measurements(path)[0] if r.load_type == "online_fixed_concurrency"]
    if not rows:
        return {}
    pairs = aligned(prepare(rows, params), params)
    return {m: metric_summary(abs_pct_errors(*pairs[m])) for m in ("throughput", "ttft", "tpot")}


if __name__ == "__main__":
    import json
    import sys

    # python -m cost_models.serving.validation FILE.csv: accuracy on the file's online_fixed_concurrency rows.
    print(json.dumps(online_accuracy(sys.argv[1]), indent=2))
